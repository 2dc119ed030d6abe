"""The host side of each health-manager port: the commands that plug it into Open vSwitch.

The stack creates one Neutron port per controller (components/health_manager.py); the controller
still needs an interface bound to it. Octavia's devstack plugin and kolla-ansible's octavia role
(its `octavia-interface` service) plug `o-hm0` the same way: an Open vSwitch internal port on the
integration bridge whose `external-ids` name the Neutron port (`iface-id`), its MAC
(`attached-mac`) and `iface-status=active` -- what the Open vSwitch agent or OVN binds the port
by -- then the port's MAC on the interface, then an address. This module renders that, per
health-manager host, as a POSIX shell script:

- the bridge is `${OVS_BRIDGE:-br-int}`, as in the devstack plugin: br-int for the Open vSwitch
  agent and for OVN, another bridge by setting OVS_BRIDGE when running the script;
- IPv4: the port's address is known once Neutron allocated it (fixed in `health_managers` or
  taken from the pools), so the script sets it statically with the subnet's prefix length instead
  of running dhclient as devstack and kolla do (their dhclient.conf asks for no routes either);
  it works whether or not the subnet runs DHCP, and leaves no client daemon behind;
- IPv6 (the management subnet is SLAAC): the interface forms its address from the MAC with
  EUI-64, as Neutron computed the port's address, and accepts router advertisements for the
  prefix but not as a default route (the management router is no way out for the controller); no
  temporary addresses (port security drops any source address but the port's). The port's address
  is also set at once, so the health manager can bind it before the first advertisement;
- the management MTU, when the stack sets one;
- a route to each availability zone's own management subnet through the router the management
  subnet knows for it (the most specific `mgmt_host_routes` entry covering it, else
  `mgmt_gateway_ip`), so the controller answers amphorae there.

Every step can be re-run: `--may-exist`, `ip addr replace`. Values are shell-quoted, though they
are Neutron IDs, MACs, addresses and validated interface names.
"""

from __future__ import annotations

import ipaddress
import shlex
from typing import Mapping, Optional

from config.netmath import IPNetwork
from config.settings import Settings

DEFAULT_BRIDGE = "br-int"
BRIDGE_VARIABLE = "OVS_BRIDGE"

# IPv6 sysctls for a SLAAC management interface, in the order they are set (before the link is up).
IPV6_SYSCTLS = (
    ("accept_ra", "2"),  # accept advertisements even when the host forwards (a Neutron node does)
    ("accept_ra_defrtr", "0"),  # the management router is not the controller's default route
    ("autoconf", "1"),  # form an address from the advertised prefix ...
    ("addr_gen_mode", "0"),  # ... with EUI-64 from the MAC, as Neutron computed the port's address
    ("use_tempaddr", "0"),  # no privacy addresses: port security drops other source addresses
)


def render_health_manager_plugs(
    settings: Settings, ports: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, object]]:
    """{host: {interface, port_id, mac_address, ip_address, prefix_length, addressing, bridge, ovs}}
    for every health-manager host; ports is {host: {id, mac_address, ip_address}} as Neutron made
    them."""
    network, routes = settings.network, zone_routes(settings)
    return {
        host.name: render_host_plug(
            host.name,
            host.interface,
            ports[host.name]["id"],
            ports[host.name]["mac_address"],
            ports[host.name]["ip_address"],
            network.cidr,
            network.mtu,
            routes,
        )
        for host in settings.health_managers
    }


def zone_routes(settings: Settings) -> tuple[tuple[IPNetwork, object], ...]:
    """(zone subnet, next hop on the management subnet) for each zone with a subnet of its own;
    the settings refuse a zone subnet without either (config.settings._check_route_back)."""
    network, routes = settings.network, []
    for cidr in settings.zone_subnets:
        covering = [route for route in network.host_routes if cidr.subnet_of(route.destination)]
        best = max(covering, key=lambda route: route.destination.prefixlen, default=None)
        routes.append((cidr, best.nexthop if best else network.gateway_ip))
    return tuple(routes)


def render_host_plug(
    host: str,
    interface: str,
    port_id: str,
    mac_address: str,
    ip_address: str,
    cidr: IPNetwork,
    mtu: Optional[int] = None,
    routes: tuple = (),
) -> dict[str, object]:
    """One host's plug: the port's identity and the script that binds an interface to it."""
    address = ipaddress.ip_address(ip_address)
    addressing = "slaac" if address.version == 6 else "static"
    return {
        "interface": interface,
        "port_id": port_id,
        "mac_address": mac_address,
        "ip_address": str(address),
        "prefix_length": cidr.prefixlen,
        "addressing": addressing,
        "bridge": DEFAULT_BRIDGE,
        "ovs": render_ovs_script(host, interface, port_id, mac_address, address, cidr, mtu, routes),
    }


def render_ovs_script(
    host: str,
    interface: str,
    port_id: str,
    mac_address: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    cidr: IPNetwork,
    mtu: Optional[int] = None,
    routes: tuple = (),
) -> str:
    q = shlex.quote
    iface, mac = q(interface), q(mac_address)
    external_ids = (
        f"external-ids:iface-id={q(port_id)} external-ids:iface-status=active external-ids:attached-mac={mac}"
    )
    lines = [
        "#!/bin/sh",
        f"# octavia-infra: health-manager port of {host} on {interface}: Neutron port {port_id},",
        f"# MAC {mac_address}, address {address}/{cidr.prefixlen}. Run as root on {host};",
        f"# set {BRIDGE_VARIABLE} when the integration bridge is not {DEFAULT_BRIDGE}.",
        "set -eu",
        f'bridge="${{{BRIDGE_VARIABLE}:-{DEFAULT_BRIDGE}}}"',
        f'ovs-vsctl --may-exist add-port "$bridge" {iface} -- set Interface {iface} type=internal {external_ids}',
        f"ip link set dev {iface} address {mac}",
    ]
    if mtu:
        lines.append(f"ip link set dev {iface} mtu {int(mtu)}")
    if address.version == 6:
        path = interface.replace(".", "/")  # sysctl's separator is '.'; a VLAN interface has one
        lines += [f"sysctl -q -w {q(f'net.ipv6.conf.{path}.{key}={value}')}" for key, value in IPV6_SYSCTLS]
    lines.append(f"ip link set {iface} up")
    lines.append(f"ip addr replace {q(f'{address}/{cidr.prefixlen}')} dev {iface}")
    lines += [f"ip route replace {q(str(destination))} via {q(str(nexthop))} dev {iface}" for destination, nexthop in routes]
    return "\n".join(lines) + "\n"
