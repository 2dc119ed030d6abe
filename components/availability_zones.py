"""Octavia availability zones: per zone, its management network (the stack's own, one made for
the zone, or an adopted one), an availability-zone profile and the zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.network import ManagementNetwork, ManagementNetworkArgs
from components.octavia_az_provider import AvailabilityZone, AvailabilityZoneProfile, zone_data
from config.names import ResourceNames
from config.settings import AvailabilityZone as ZoneSettings

AMPHORA_PROVIDER = "amphora"


@dataclass(frozen=True)
class AvailabilityZonesArgs:
    zones: tuple[ZoneSettings, ...]
    mgmt_network_id: pulumi.Input[str]
    mgmt_subnet_id: pulumi.Input[str]
    mgmt_cidr: str
    names: ResourceNames
    protect: bool


class AvailabilityZones(pulumi.ComponentResource):
    """Attribute `zones`: {zone name: {compute_zone, management_network_id, subnet_id, subnet_cidr,
    profile_id}}, the stack output availability_zones."""

    def __init__(self, name: str, args: AvailabilityZonesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:octavia:AvailabilityZones", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zones = {}
        for zone in args.zones:
            network_id, subnet_id, cidr = args.mgmt_network_id, args.mgmt_subnet_id, args.mgmt_cidr
            if zone.network is not None:
                network = ManagementNetwork(
                    f"{name}-{zone.name}-mgmt",
                    ManagementNetworkArgs(zone.network, args.names.zone_network(zone.name), args.protect),
                    child,
                )
                network_id, subnet_id, cidr = network.network_id, network.subnet_id, network.cidr
            profile = AvailabilityZoneProfile(
                f"{name}-{zone.name}-profile",
                {
                    "name": args.names.zone_profile(zone.name),
                    "provider_name": AMPHORA_PROVIDER,
                    "availability_zone_data": pulumi.Output.from_input(network_id).apply(
                        lambda net, compute_zone=zone.compute_zone: zone_data(compute_zone, net)
                    ),
                },
                child,
            )
            AvailabilityZone(
                f"{name}-{zone.name}",
                {
                    "name": zone.name,
                    "availability_zone_profile_id": profile.id,
                    "description": f"Amphorae in Nova zone {zone.compute_zone}",
                    "enabled": True,
                },
                child,
            )
            self.zones[zone.name] = {
                "compute_zone": zone.compute_zone,
                "management_network_id": network_id,
                "subnet_id": subnet_id,
                "subnet_cidr": cidr,
                "profile_id": profile.id,
            }
        self.register_outputs({"zones": self.zones})
