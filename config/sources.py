"""Which remote prefixes a management security-group rule may admit: the one rule the stack's
settings validation (mgmt_extra_sources) and the policy pack (mgmt-secgroup-rules-not-open-to-world)
both apply.

A rule open to a /0 prefix (0.0.0.0/0, ::/0) admits the whole internet. Both refuse it unless it is
on an allow-list: the stack's `mgmt_allowed_open_prefixes` for the settings, the pack's
`allowed_open_prefixes` (--policy-pack-config) for the pack. Both lists default to
DEFAULT_ALLOWED_OPEN_PREFIXES (none), so with the defaults a source the pack would refuse is refused
first at preview, with a config error naming the key.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Optional

# The prefixes that admit every address of their IP version.
OPEN_PREFIXES = ("0.0.0.0/0", "::/0")
DEFAULT_ALLOWED_OPEN_PREFIXES: tuple[str, ...] = ()


def allowed_open_problem(prefix: str) -> Optional[str]:
    """Why prefix cannot be an entry of an allow-list, or None."""
    if prefix not in OPEN_PREFIXES:
        return f"one of {', '.join(OPEN_PREFIXES)} (the open prefixes an allow-list can name)"
    return None


def open_prefix_problem(prefix: str, allowed: Iterable[str] = DEFAULT_ALLOWED_OPEN_PREFIXES) -> Optional[str]:
    """Why a rule may not admit prefix (a CIDR string), or None: a /0 not on the allow-list."""
    try:
        network = ipaddress.ip_network(str(prefix).strip(), strict=False)
    except ValueError:
        return f"{prefix!r} is not a CIDR"
    if network.prefixlen == 0 and str(network) not in set(allowed):
        return (f"{network} admits every IPv{network.version} address (the whole internet); allowed only when on "
                "the allow-list (stack: mgmt_allowed_open_prefixes, policy pack: allowed_open_prefixes)")
    return None


def parse_allowed_open_prefixes(key: str, values: Iterable[str]) -> tuple[str, ...]:
    """The allow-list as given (mgmt_allowed_open_prefixes), each entry one of OPEN_PREFIXES."""
    from config.errors import ConfigError

    allowed = []
    for index, value in enumerate(values):
        text = str(value).strip()
        problem = allowed_open_problem(text)
        if problem:
            raise ConfigError(f"{key}[{index}]", value, problem)
        if text in allowed:
            raise ConfigError(f"{key}[{index}]", value, f"each prefix once; {text} is listed before")
        allowed.append(text)
    return tuple(allowed)


def parse_extra_sources(key: str, values: Iterable[str], subnet, allowed: Iterable[str] = DEFAULT_ALLOWED_OPEN_PREFIXES):
    """mgmt_extra_sources as networks: CIDRs without host bits, of the subnet's IP version, outside
    the subnet (which every rule admits already), each once, no /0 unless allowed. ConfigError names
    the entry (key[i]), its value and what is valid."""
    from config.errors import ConfigError

    sources: list = []
    for index, value in enumerate(values):
        path = f"{key}[{index}]"
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=True)
        except ValueError:
            raise ConfigError(path, value, f"a network in CIDR form without host bits, e.g. "
                              f"{'10.20.0.0/16' if subnet.version == 4 else 'fd00:20::/64'}") from None
        if network.version != subnet.version:
            raise ConfigError(path, value, f"an IPv{subnet.version} network, like mgmt_subnet_cidr {subnet} "
                              "(a rule's ethertype is the subnet's)")
        problem = open_prefix_problem(str(network), allowed)
        if problem:
            raise ConfigError(path, value, f"a network narrower than /0: {problem}")
        if network.prefixlen and network.subnet_of(subnet):
            raise ConfigError(path, value, f"a network outside mgmt_subnet_cidr {subnet}, which every rule admits already")
        if network in sources:
            raise ConfigError(path, value, f"each network once; {network} is {key}[{sources.index(network)}] already")
        sources.append(network)
    return tuple(sources)
