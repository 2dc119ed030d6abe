"""The Keystone objects the stack names in its config, resolved before anything is declared.

A name Keystone does not know (a typo in service_project or octavia_service_user) stops the
program with one config error naming the key, rather than an invoke traceback mid-preview.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import pulumi_openstack as openstack

from config.errors import ConfigError
from config.settings import Settings


@dataclass(frozen=True)
class Identities:
    service_project_id: str
    octavia_user_id: Optional[str]  # the amphora keypair's owner; None without SSH (no keypair)


def look_up_identities(settings: Settings) -> Identities:
    domain = settings.service_project_domain
    project = _found("service_project", settings.service_project, f"a project in domain {domain!r}",
                     lambda: openstack.identity.get_project(name=settings.service_project, domain_id=domain))
    user = None
    if settings.access.ssh_enabled:
        user = _found("octavia_service_user", settings.octavia_service_user, f"a user in domain {domain!r}",
                      lambda: openstack.identity.get_user(name=settings.octavia_service_user, domain_id=domain))
    return Identities(project.id, user.id if user else None)


def _found(key: str, name: str, what: str, lookup: Callable):
    try:
        return lookup()
    except Exception as error:  # the provider's lookup error: none found, or not visible to the caller
        reason = str(error).strip().splitlines()[-1].lstrip("\t* ")
        raise ConfigError(key, name, f"{what} that these credentials can see ({reason})") from None
