"""Health-manager host side: the rendered Open vSwitch plug per host (IPv4 fixed, IPv4 allocated, IPv6)."""

import ipaddress
import shlex

from config.settings import parse_settings
from octavia_support import ALLOCATED_IP
from render.host_plug import IPV6_SYSCTLS, render_health_manager_plugs, render_host_plug

PORT_ID = "5b0f2a52-6a35-4d3c-9f63-0d2c5e8b1a11"
MAC = "fa:16:3e:4c:2d:91"


# `config` (tests/unit/conftest.py): hosts ctl1=172.29.232.11 and ctl2 on 172.29.232.0/24


def parse(config):
    return parse_settings(config, pki_parser=lambda section: section)


def commands(script):
    """The script's commands as argument lists, comments and blank lines left out."""
    return [shlex.split(line) for line in script.splitlines() if line.strip() and not line.startswith("#")]


def ovs_set_columns(command):
    """{column: value} of the `set Interface` part of an ovs-vsctl command."""
    set_at = command.index("set")
    assert command[set_at : set_at + 3] == ["set", "Interface", command[command.index("add-port") + 2]]
    return dict(arg.split("=", 1) for arg in command[set_at + 3 :])


def ports(**by_host):
    return {host: {"id": f"{host}-port", "mac_address": mac, "ip_address": ip} for host, (mac, ip) in by_host.items()}


def test_ipv4_fixed_address(config):
    settings = parse(config)
    plugs = render_health_manager_plugs(
        settings, ports(ctl1=(MAC, "172.29.232.11"), ctl2=("fa:16:3e:00:00:02", ALLOCATED_IP))
    )
    plug = plugs["ctl1"]
    assert {k: v for k, v in plug.items() if k != "ovs"} == {
        "interface": "o-hm0",
        "port_id": "ctl1-port",
        "mac_address": MAC,
        "ip_address": "172.29.232.11",
        "prefix_length": 24,
        "addressing": "static",
        "bridge": "br-int",
    }
    script = plug["ovs"]
    assert script.startswith("#!/bin/sh\n") and "set -eu" in script
    steps = commands(script)
    assert steps[0] == ["set", "-eu"]
    assert steps[1] == ["bridge=${OVS_BRIDGE:-br-int}"]
    ovs = steps[2]
    assert ovs[:5] == ["ovs-vsctl", "--may-exist", "add-port", "$bridge", "o-hm0"]
    assert ovs_set_columns(ovs) == {
        "type": "internal",
        "external-ids:iface-id": "ctl1-port",
        "external-ids:iface-status": "active",
        "external-ids:attached-mac": MAC,
    }
    assert steps[3:] == [
        ["ip", "link", "set", "dev", "o-hm0", "address", MAC],
        ["ip", "link", "set", "o-hm0", "up"],
        ["ip", "addr", "replace", "172.29.232.11/24", "dev", "o-hm0"],
    ]
    assert "sysctl" not in script and "dhclient" not in script


def test_ipv4_allocated_address_is_set_statically_with_the_host_interface_and_mtu(config):
    config = {**config, "mgmt_mtu": 1450, "health_managers": [
        config["health_managers"][0], {"host": "ctl2", "interface": "br-lbaas"}]}
    plugs = render_health_manager_plugs(parse(config), ports(ctl1=(MAC, "172.29.232.11"), ctl2=(MAC, ALLOCATED_IP)))
    assert set(plugs) == {"ctl1", "ctl2"}
    plug = plugs["ctl2"]
    assert (plug["interface"], plug["ip_address"], plug["addressing"]) == ("br-lbaas", ALLOCATED_IP, "static")
    steps = commands(plug["ovs"])
    assert steps[2][4] == "br-lbaas" and ovs_set_columns(steps[2])["external-ids:iface-id"] == "ctl2-port"
    assert steps[3:] == [
        ["ip", "link", "set", "dev", "br-lbaas", "address", MAC],
        ["ip", "link", "set", "dev", "br-lbaas", "mtu", "1450"],
        ["ip", "link", "set", "br-lbaas", "up"],
        ["ip", "addr", "replace", f"{ALLOCATED_IP}/24", "dev", "br-lbaas"],
    ]


def test_ipv6_slaac_accepts_advertisements_but_no_default_route(config):
    config = {**config, "mgmt_subnet_cidr": "fd00:29::/64", "mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}]}
    slaac = "fd00:29::f816:3eff:fe4c:2d91"  # EUI-64 of MAC, as Neutron computes a SLAAC port's address
    plug = render_health_manager_plugs(parse(config), ports(ctl1=(MAC, slaac)))["ctl1"]
    assert (plug["ip_address"], plug["prefix_length"], plug["addressing"]) == (slaac, 64, "slaac")
    steps = commands(plug["ovs"])
    sysctls = [s for s in steps if s[0] == "sysctl"]
    assert sysctls == [["sysctl", "-q", "-w", f"net.ipv6.conf.o-hm0.{k}={v}"] for k, v in IPV6_SYSCTLS]
    assert dict(IPV6_SYSCTLS)["accept_ra"] == "2" and dict(IPV6_SYSCTLS)["accept_ra_defrtr"] == "0"
    assert dict(IPV6_SYSCTLS)["addr_gen_mode"] == "0"  # EUI-64: the address SLAAC forms is the port's
    up = steps.index(["ip", "link", "set", "o-hm0", "up"])
    assert max(steps.index(s) for s in sysctls) < up  # the address is generated when the link comes up
    assert steps[-1] == ["ip", "addr", "replace", f"{slaac}/64", "dev", "o-hm0"]


def test_sysctl_path_of_a_vlan_interface_swaps_its_dot():
    plug = render_host_plug("ctl1", "eth0.101", PORT_ID, MAC, "fd00:29::1", ipaddress.ip_network("fd00:29::/64"))
    assert "sysctl -q -w net.ipv6.conf.eth0/101.accept_ra=2" in plug["ovs"]


def test_values_are_shell_quoted():
    plug = render_host_plug("ctl1", "o-hm0", "id; reboot", MAC, "10.0.0.5", ipaddress.ip_network("10.0.0.0/24"))
    ovs = commands(plug["ovs"])[2]
    assert ovs_set_columns(ovs)["external-ids:iface-id"] == "id; reboot"
    assert "reboot" not in [word for cmd in commands(plug["ovs"]) for word in cmd]
