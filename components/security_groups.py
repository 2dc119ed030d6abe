"""Security groups for amphorae and health managers, declared from a table of rules.

Every rule is ingress from the management CIDR, with the ethertype of the subnet; with
mgmt_extra_sources (controllers on another routed segment) and availability zones with subnets of
their own (amphorae there), each rule is repeated once per such source. Never 0.0.0.0/0 or ::/0 unless allowed (config.sources, shared with the policy pack).
Resource names come from the group, the rule key and, for an extra source, the source, so adding or
removing a row or a source touches nothing else. Neutron's default egress rules on new groups are kept: amphorae send
heartbeats and logs to the controllers, and controllers call the amphora agent, all as egress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from config.names import AMPHORA, HEALTH_MANAGER, SECURITY_GROUP_NAMES, ResourceNames
from config.settings import Settings

AMPHORA_AGENT_PORT = 9443
SSH_PORT = 22
LOG_OFFLOAD_PORTS = {"admin-log": 10514, "tenant-log": 20514}

# OpenStack group names (Octavia's devstack names), before the stack's name prefix.
GROUP_DESCRIPTIONS = {
    AMPHORA: "Octavia amphorae: agent API from the controllers",
    HEALTH_MANAGER: "Octavia health managers: amphora heartbeats and logs",
}


@dataclass(frozen=True)
class RuleSpec:
    key: str  # stable: part of the resource name
    group: str
    protocol: str
    port: Optional[int] = None
    source: Optional[str] = None  # an extra source's CIDR; None: the management CIDR

    @property
    def description(self) -> str:
        if self.source is None:
            return f"{self.key} from the management network"
        return f"{self.key.removesuffix(f'-from-{source_key(self.source)}')} from {self.source}"


def source_key(cidr: str) -> str:
    """A CIDR as part of a resource name: 10.20.0.0/16 -> 10.20.0.0-16, fd00:20::/64 -> fd00.20..-64."""
    return cidr.replace(":", ".").replace("/", "-")


def rule_table(settings: Settings) -> tuple[RuleSpec, ...]:
    """The rules this configuration asks for; a row per (condition, rule), then each enabled rule
    again from every extra source (key <rule>-from-<source>)."""
    access = settings.access
    icmp = "icmp" if settings.network.ip_version == 4 else "ipv6-icmp"
    rows = (
        (True, RuleSpec("agent-api", AMPHORA, "tcp", AMPHORA_AGENT_PORT)),
        (access.ssh_enabled, RuleSpec("ssh", AMPHORA, "tcp", SSH_PORT)),
        (access.debug, RuleSpec("icmp", AMPHORA, icmp)),
        (True, RuleSpec("heartbeat", HEALTH_MANAGER, "udp", settings.health_manager_port)),
        # Log offload targets are the controllers, reached through their health-manager ports.
        *((access.log_offload, RuleSpec(key, HEALTH_MANAGER, "udp", port)) for key, port in LOG_OFFLOAD_PORTS.items()),
    )
    rules = tuple(rule for enabled, rule in rows if enabled)
    extra = tuple(
        RuleSpec(f"{rule.key}-from-{source_key(str(source))}", rule.group, rule.protocol, rule.port, str(source))
        for source in settings.rule_sources
        for rule in rules
    )
    return rules + extra


@dataclass(frozen=True)
class SecurityGroupsArgs:
    rules: tuple[RuleSpec, ...]
    cidr: str
    ip_version: int
    names: ResourceNames


class SecurityGroups(pulumi.ComponentResource):
    """Outputs: amphora_id, health_manager_id."""

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:security:SecurityGroups", name, None, opts)
        groups = {
            group: openstack.networking.SecGroup(
                f"{name}-{group}",
                name=args.names.security_group(group),
                description=GROUP_DESCRIPTIONS[group],
                delete_default_rules=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for group in SECURITY_GROUP_NAMES
        }
        for rule in args.rules:
            group = groups[rule.group]
            openstack.networking.SecGroupRule(
                f"{name}-{rule.group}-{rule.key}",
                security_group_id=group.id,
                direction="ingress",
                ethertype=f"IPv{args.ip_version}",
                protocol=rule.protocol,
                port_range_min=rule.port,
                port_range_max=rule.port,
                remote_ip_prefix=rule.source or args.cidr,
                description=rule.description,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.amphora_id = groups[AMPHORA].id
        self.health_manager_id = groups[HEALTH_MANAGER].id
        self.register_outputs({"amphora_id": self.amphora_id, "health_manager_id": self.health_manager_id})
