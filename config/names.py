"""The one place every OpenStack resource name is made: name_prefix plus a conventional name.

Unprefixed, the names are the ones OpenStack-Ansible's and Octavia's own tooling use, so an operator
finds the objects where they expect them; a prefix lets several stacks share one cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings

AMPHORA, HEALTH_MANAGER = "amphora", "health-manager"  # the security groups, by role
SECURITY_GROUP_NAMES = {AMPHORA: "lb-mgmt-sec-grp", HEALTH_MANAGER: "lb-health-mgr-sec-grp"}
KEYPAIR_NAME = "octavia-ssh-key"
IMAGE_NAME = "amphora-x64-haproxy"  # Octavia's conventional name, before the version


@dataclass(frozen=True)
class ResourceNames:
    prefix: str
    network: str  # the subnet carries the network's name
    flavor: str

    @property
    def keypair(self) -> str:
        return f"{self.prefix}{KEYPAIR_NAME}"

    def security_group(self, role: str) -> str:
        return f"{self.prefix}{SECURITY_GROUP_NAMES[role]}"

    def health_manager_port(self, host: str) -> str:
        return f"{self.prefix}octavia-health-manager-{host}-listen-port"

    def image(self, version: str) -> str:
        return f"{self.prefix}{IMAGE_NAME}-{version}"

    def zone_network(self, zone: str) -> str:
        """An availability zone's own management network and subnet."""
        return f"{self.network}-{zone}"

    def zone_profile(self, zone: str) -> str:
        """The Octavia availability-zone profile of a zone (the zone itself keeps its own name)."""
        return f"{self.prefix}octavia-az-{zone}"

    def octavia_flavor(self, topology: str) -> str:
        """The Octavia flavor of a topology and its flavor profile (amphora-active-standby)."""
        return f"{self.prefix}amphora-{topology.lower().replace('_', '-')}"


def names(settings: Settings) -> ResourceNames:
    prefix = settings.name_prefix
    return ResourceNames(prefix, network=f"{prefix}{settings.network.name}", flavor=f"{prefix}{settings.flavor.name}")
