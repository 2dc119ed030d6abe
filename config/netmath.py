"""Address ranges on the management subnet: the network math behind pool validation (stdlib ipaddress)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True, order=True)
class IpRange:
    """An inclusive range of addresses, as Neutron allocation pools are."""

    start: IPAddress
    end: IPAddress

    @classmethod
    def parse(cls, text: str) -> "IpRange":
        """Parse "start-end", a single address, or a CIDR; raises ValueError."""
        if "/" in text:
            net = ipaddress.ip_network(text, strict=True)
            return cls(net[0], net[-1])
        start_text, _, end_text = text.partition("-")
        start = ipaddress.ip_address(start_text.strip())
        end = ipaddress.ip_address(end_text.strip()) if end_text else start
        if start.version != end.version or start > end:
            raise ValueError(f"{text!r} is not an ascending range of one IP version")
        return cls(start, end)

    @property
    def size(self) -> int:
        return int(self.end) - int(self.start) + 1

    def contains(self, address: IPAddress) -> bool:
        return address.version == self.start.version and self.start <= address <= self.end

    def overlaps(self, other: "IpRange") -> bool:
        return self.start.version == other.start.version and not (self.end < other.start or other.end < self.start)

    def within(self, network: IPNetwork) -> bool:
        return self.start in network and self.end in network

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


def usable_range(network: IPNetwork) -> IpRange:
    """The addresses Neutron can hand out: IPv4 loses network and broadcast, IPv6 its subnet-router anycast."""
    if network.version == 4 and network.prefixlen <= 30:
        return IpRange(network[1], network[-2])
    return IpRange(network[1], network[-1])


def default_pools(network: IPNetwork, gateway: IPAddress | None) -> tuple[IpRange, ...]:
    """What Neutron allocates when no pool is given: the usable range minus the gateway."""
    return subtract(usable_range(network), [gateway] if gateway else [])


def subtract(whole: IpRange, holes: Iterable[IPAddress]) -> tuple[IpRange, ...]:
    """Split a range around single addresses."""
    pieces, cursor = [], int(whole.start)
    for hole in sorted(h for h in holes if whole.contains(h)):
        if int(hole) > cursor:
            pieces.append(IpRange(_address(whole, cursor), _address(whole, int(hole) - 1)))
        cursor = int(hole) + 1
    if cursor <= int(whole.end):
        pieces.append(IpRange(_address(whole, cursor), whole.end))
    return tuple(pieces)


def _address(like: IpRange, value: int) -> IPAddress:
    return type(like.start)(value)


def first_overlap(ranges: Iterable[IpRange]) -> tuple[IpRange, IpRange] | None:
    """The first pair of overlapping ranges, or None."""
    ordered = sorted(ranges)
    for left, right in zip(ordered, ordered[1:]):
        if left.overlaps(right):
            return left, right
    return None
