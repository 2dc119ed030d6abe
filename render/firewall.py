"""Host firewall for the health-manager hosts, rendered from the stack's own values.

OpenStack-Ansible's `octavia_ip_tables_fw` drops iptables rules on the controllers: on the
management interface accept ICMP, established traffic and the UDP heartbeats, reject the rest, for
IPv4 and IPv6. This module renders the same policy, per health-manager host with its interface,
in two formats a deployment tool or an operator applies:

- nftables: one `table inet octavia_hm` whose input chain sends the management interface's
  traffic to its own chain. The file first deletes the table, so `nft -f FILE` is atomic and can be
  re-applied; it touches no other table.
- iptables-restore (IPv4 and IPv6 files): a chain `octavia-hm` and one jump to it from INPUT, for
  `iptables-restore --noflush` / `ip6tables-restore --noflush` (without --noflush, iptables-restore
  would flush the host's other filter rules). Re-applying adds a second, identical jump.

Only addresses of the management subnet, and of availability zones' own management subnets, may
send heartbeats and offloaded logs; ICMP and replies are accepted in both IP families (ICMPv6 carries IPv6 neighbour discovery and router adverts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from config.netmath import IPNetwork
from components.security_groups import LOG_OFFLOAD_PORTS
from config.settings import Settings

NFT_TABLE = "octavia_hm"
IPTABLES_CHAIN = "octavia-hm"


@dataclass(frozen=True)
class FirewallRule:
    """One accepted kind of traffic on the management interface."""

    key: str  # also the rule's comment
    match: str  # "established", "icmp" or "udp"
    port: Optional[int] = None  # udp only
    from_mgmt_subnet: bool = False  # only from the management subnet (hence only its IP family)


def firewall_rules(settings: Settings) -> tuple[FirewallRule, ...]:
    """The accepted traffic, in order; everything else on the interface is rejected."""
    log_offload = tuple(
        FirewallRule(f"log-offload-{key}", "udp", port, from_mgmt_subnet=True)
        for key, port in LOG_OFFLOAD_PORTS.items()
    )
    return (
        FirewallRule("established", "established"),
        FirewallRule("icmp", "icmp"),
        FirewallRule("heartbeats", "udp", settings.health_manager_port, from_mgmt_subnet=True),
        *(log_offload if settings.access.log_offload else ()),
    )


def render_health_manager_firewalls(settings: Settings) -> dict[str, dict[str, str]]:
    """{host: {interface, nftables, iptables, ip6tables}} for every health-manager host."""
    rules, cidr, zones = firewall_rules(settings), settings.network.cidr, settings.zone_subnets
    return {
        host.name: {
            "interface": host.interface,
            "nftables": render_nftables(host.name, host.interface, cidr, rules, zones),
            "iptables": render_iptables(host.name, host.interface, cidr, rules, ip_version=4, zone_subnets=zones),
            "ip6tables": render_iptables(host.name, host.interface, cidr, rules, ip_version=6, zone_subnets=zones),
        }
        for host in settings.health_managers
    }


def _header(host: str, interface: str, cidr: IPNetwork, apply: str) -> list[str]:
    return [
        f"# octavia-infra: health-manager firewall for {host}, interface {interface},",
        f"# management subnet {cidr}. Apply with: {apply}",
    ]


# --- nftables -----------------------------------------------------------------------------------

_NFT_MATCH = {
    "established": lambda rule: "ct state established,related",
    "icmp": lambda rule: "meta l4proto { icmp, ipv6-icmp }",
    "udp": lambda rule: f"udp dport {rule.port}",
}


def render_nftables(
    host: str, interface: str, cidr: IPNetwork, rules: tuple[FirewallRule, ...], zone_subnets: tuple = ()
) -> str:
    """zone_subnets: availability zones' own subnets, admitted like the management subnet."""
    networks = ", ".join(str(network) for network in (cidr, *zone_subnets))
    source = f"{'ip' if cidr.version == 4 else 'ip6'} saddr {f'{{ {networks} }}' if zone_subnets else cidr} "
    body = [
        f"\t\t{source if rule.from_mgmt_subnet else ''}{_NFT_MATCH[rule.match](rule)} accept comment \"{rule.key}\""
        for rule in rules
    ]
    lines = [
        *_header(host, interface, cidr, "nft -f FILE (replaces this table only; safe to re-apply)"),
        f"table inet {NFT_TABLE}",
        f"delete table inet {NFT_TABLE}",
        f"table inet {NFT_TABLE} {{",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
        f'\t\tiifname "{interface}" jump management',
        "\t}",
        "",
        "\tchain management {",
        *body,
        '\t\treject with icmpx admin-prohibited comment "reject"',
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


# --- iptables-restore ---------------------------------------------------------------------------

_REJECT = {4: "icmp-admin-prohibited", 6: "icmp6-adm-prohibited"}
_ICMP = {4: "icmp", 6: "ipv6-icmp"}


def _iptables_match(rule: FirewallRule, ip_version: int) -> str:
    if rule.match == "established":
        return "-m conntrack --ctstate RELATED,ESTABLISHED"
    if rule.match == "icmp":
        return f"-p {_ICMP[ip_version]}"
    return f"-p udp -m udp --dport {rule.port}"


def render_iptables(
    host: str, interface: str, cidr: IPNetwork, rules: tuple[FirewallRule, ...], ip_version: int,
    zone_subnets: tuple = (),
) -> str:
    """The iptables-restore (ip_version 4) or ip6tables-restore (6) file; zone_subnets as for nftables,
    one rule per source."""
    command = "iptables-restore" if ip_version == 4 else "ip6tables-restore"
    body = []
    for rule in rules:
        if rule.from_mgmt_subnet and cidr.version != ip_version:
            continue  # the management subnet has no addresses of this family
        for source in [f"-s {network} " for network in (cidr, *zone_subnets)] if rule.from_mgmt_subnet else [""]:
            body.append(
                f"-A {IPTABLES_CHAIN} {source}{_iptables_match(rule, ip_version)} "
                f'-m comment --comment "{rule.key}" -j ACCEPT'
            )
    lines = [
        *_header(host, interface, cidr, f"{command} --noflush FILE (other rules stay)"),
        "*filter",
        f":{IPTABLES_CHAIN} - [0:0]",
        f"-A INPUT -i {interface} -j {IPTABLES_CHAIN}",
        *body,
        f'-A {IPTABLES_CHAIN} -m comment --comment "reject" -j REJECT --reject-with {_REJECT[ip_version]}',
        "COMMIT",
    ]
    return "\n".join(lines) + "\n"
