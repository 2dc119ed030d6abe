"""Service-project quotas sized from the expected load balancers and the topology.

Each quota is a row: (service, quota name, formula over the plan). Amphorae carry the headroom:
a failover builds the replacement amphora before deleting the old one.

Only Nova and Neutron: amphorae, their ports and the VIP security groups live in the service
project, while load balancers (and so Octavia's quotas) belong to the tenants' projects. Their
defaults are octavia.conf's [quotas] options (octavia_tenant_quotas, rendered by
render.rendering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import pulumi
import pulumi_openstack as openstack

from config.settings import DHCP_PORTS_PER_NETWORK, Settings

# Per load balancer: the VIP security group's rules besides one per listener (VRRP, and the
# two default egress rules).
BASE_RULES_PER_LOADBALANCER = 3
# Our two groups, their rules and Neutron's default group, with room for a few more rows.
OWN_SECURITY_GROUPS = 3
OWN_SECURITY_GROUP_RULES = 20


@dataclass(frozen=True)
class QuotaPlan:
    loadbalancers: int  # with headroom
    amphorae: int  # with headroom
    amphorae_per_loadbalancer: int
    vcpus: int
    ram_mb: int
    server_groups: int
    listeners: int
    health_managers: int


def quota_plan(settings: Settings) -> QuotaPlan:
    capacity, topology = settings.capacity, settings.topology
    loadbalancers = capacity.with_headroom(capacity.expected_loadbalancers)
    uses_server_groups = topology.anti_affinity and "ACTIVE_STANDBY" in (topology.default, *topology.offered)
    return QuotaPlan(
        loadbalancers=loadbalancers,
        amphorae=capacity.with_headroom(settings.planned_amphorae),
        amphorae_per_loadbalancer=topology.max_amphorae_per_loadbalancer,
        vcpus=settings.flavor.vcpus,
        ram_mb=settings.flavor.ram_mb,
        server_groups=loadbalancers if uses_server_groups else 0,
        listeners=loadbalancers * capacity.listeners_per_loadbalancer,
        health_managers=len(settings.health_managers),
    )


Formula = Callable[[QuotaPlan], int]

QUOTA_TABLE: tuple[tuple[str, str, Formula], ...] = (
    ("nova", "instances", lambda p: p.amphorae),
    ("nova", "cores", lambda p: p.amphorae * p.vcpus),
    ("nova", "ram", lambda p: p.amphorae * p.ram_mb),
    ("nova", "server_groups", lambda p: p.server_groups),
    # A failover adds the replacement to the group before the old member is deleted.
    ("nova", "server_group_members", lambda p: p.amphorae_per_loadbalancer + 1),
    # Each amphora: a management port and a VRRP port; each load balancer: a VIP port.
    ("neutron", "port", lambda p: 2 * p.amphorae + p.loadbalancers + p.health_managers + DHCP_PORTS_PER_NETWORK),
    ("neutron", "security_group", lambda p: p.loadbalancers + OWN_SECURITY_GROUPS),
    (
        "neutron",
        "security_group_rule",
        lambda p: p.listeners + p.loadbalancers * BASE_RULES_PER_LOADBALANCER + OWN_SECURITY_GROUP_RULES,
    ),
)


def quota_values(settings: Settings) -> dict[str, dict[str, int]]:
    plan, values = quota_plan(settings), {}
    for service, quota, formula in QUOTA_TABLE:
        values.setdefault(service, {})[quota] = formula(plan)
    return values


QUOTA_RESOURCES = {
    "nova": openstack.compute.QuotaSetV2,
    "neutron": openstack.networking.QuotaV2,
}


@dataclass(frozen=True)
class ServiceQuotasArgs:
    quotas: dict[str, dict[str, int]]
    project_id: pulumi.Input[str]


class ServiceQuotas(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceQuotasArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:quotas:ServiceQuotas", name, None, opts)
        for service, values in args.quotas.items():
            QUOTA_RESOURCES[service](
                f"{name}-{service}", project_id=args.project_id, **values, opts=pulumi.ResourceOptions(parent=self)
            )
        self.register_outputs({"quotas": args.quotas})
