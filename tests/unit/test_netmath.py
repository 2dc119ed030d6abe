"""Address-range math behind pool validation."""

import ipaddress

import pytest

from config.netmath import IpRange, default_pools, first_overlap, subtract, usable_range

ip, net = ipaddress.ip_address, ipaddress.ip_network


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("10.0.0.5-10.0.0.9", "10.0.0.5", "10.0.0.9"),
        ("10.0.0.7", "10.0.0.7", "10.0.0.7"),
        ("10.0.0.0/30", "10.0.0.0", "10.0.0.3"),
        ("fd00::1-fd00::ff", "fd00::1", "fd00::ff"),
    ],
)
def test_parse(text, start, end):
    assert IpRange.parse(text) == IpRange(ip(start), ip(end))


@pytest.mark.parametrize("text", ["10.0.0.9-10.0.0.5", "10.0.0.1-fd00::1", "x-y", "10.0.0.1/24"])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        IpRange.parse(text)


def test_size_overlap_and_containment():
    a, b, c = (
        IpRange.parse("10.0.0.1-10.0.0.10"),
        IpRange.parse("10.0.0.10-10.0.0.20"),
        IpRange.parse("10.0.0.21-10.0.0.30"),
    )
    assert a.size == 10 and a.overlaps(b) and not b.overlaps(c)
    assert a.contains(ip("10.0.0.10")) and not a.contains(ip("10.0.0.11")) and not a.contains(ip("fd00::1"))
    assert first_overlap([c, b, a]) == (a, b) and first_overlap([a, c]) is None


def test_usable_range_and_neutron_default_pools():
    assert str(usable_range(net("10.0.0.0/24"))) == "10.0.0.1-10.0.0.254"
    assert str(usable_range(net("fd00::/64"))) == "fd00::1-fd00::ffff:ffff:ffff:ffff"
    assert [str(p) for p in default_pools(net("10.0.0.0/24"), ip("10.0.0.1"))] == ["10.0.0.2-10.0.0.254"]
    assert [str(p) for p in default_pools(net("10.0.0.0/24"), ip("10.0.0.100"))] == [
        "10.0.0.1-10.0.0.99",
        "10.0.0.101-10.0.0.254",
    ]


def test_subtract_ignores_holes_outside():
    whole = IpRange.parse("10.0.0.1-10.0.0.5")
    assert subtract(whole, [ip("10.0.1.1")]) == (whole,)
    assert subtract(whole, [ip("10.0.0.1"), ip("10.0.0.5")]) == (IpRange.parse("10.0.0.2-10.0.0.4"),)
