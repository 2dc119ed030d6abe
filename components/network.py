"""The amphora management network: a provider network and its subnet, or adopted existing ones."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from config.errors import ConfigError
from config.netmath import IpRange
from config.settings import AdoptedSubnet, NetworkSettings


@dataclass(frozen=True)
class ManagementNetworkArgs:
    network: NetworkSettings
    openstack_name: str  # of the network and its subnet (config.names)
    protect: bool


class ManagementNetwork(pulumi.ComponentResource):
    """Outputs: network_id, subnet_id; cidr is the validated plain CIDR string."""

    def __init__(self, name: str, args: ManagementNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:network:ManagementNetwork", name, None, opts)
        settings = args.network
        self.cidr = str(settings.cidr)
        if settings.adopted:
            self.network_id = pulumi.Output.from_input(settings.network_id)
            self.subnet_id = pulumi.Output.from_input(settings.subnet_id)
        else:
            kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
            openstack_name = args.openstack_name
            network = openstack.networking.Network(
                f"{name}-network", **_network_args(settings, openstack_name), opts=_segments_kept(settings, kept)
            )
            subnet = openstack.networking.Subnet(
                f"{name}-subnet", **_subnet_args(settings, openstack_name, network.id), opts=kept
            )
            self.network_id, self.subnet_id = network.id, subnet.id
            self._host_routes(name, settings, subnet.id)
            if settings.ip_version == 6:
                self._router_advertisements(name, args, subnet.id)
        self.register_outputs({"network_id": self.network_id, "subnet_id": self.subnet_id, "cidr": self.cidr})

    def _host_routes(self, name: str, settings: NetworkSettings, subnet_id: pulumi.Output[str]) -> None:
        for route in settings.host_routes:
            key = str(route.destination).replace("/", "-").replace(":", "-")
            openstack.networking.SubnetRoute(
                f"{name}-route-{key}",
                subnet_id=subnet_id,
                destination_cidr=str(route.destination),
                next_hop=str(route.nexthop),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _router_advertisements(self, name: str, args: ManagementNetworkArgs, subnet_id: pulumi.Output[str]) -> None:
        # SLAAC needs router advertisements; a router with no external gateway sends them and
        # routes nothing off the segment.
        router = openstack.networking.Router(
            f"{name}-ra-router",
            name=f"{args.openstack_name}-ra",
            admin_state_up=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        openstack.networking.RouterInterface(
            f"{name}-ra-interface", router_id=router.id, subnet_id=subnet_id, opts=pulumi.ResourceOptions(parent=self)
        )


def read_subnet(subnet_id: str, key: str = "mgmt_subnet_id") -> AdoptedSubnet:
    """An adopted subnet as Neutron has it: one read, before anything is declared, so the settings
    check pools, gateway and fixed IPs against the subnet itself. key names it in errors."""
    try:
        subnet = openstack.networking.get_subnet(subnet_id=subnet_id)
    except Exception as error:  # the provider's lookup error: no such subnet, or not visible
        raise ConfigError(key, subnet_id, f"an existing subnet these credentials can see ({_reason(error)})") from None
    return AdoptedSubnet(
        network_id=subnet.network_id,
        cidr=ipaddress.ip_network(subnet.cidr),
        allocation_pools=tuple(
            IpRange(ipaddress.ip_address(pool.start), ipaddress.ip_address(pool.end)) for pool in subnet.allocation_pools
        ),
        gateway_ip=ipaddress.ip_address(subnet.gateway_ip) if subnet.gateway_ip else None,
    )


def read_compute_zones() -> frozenset:
    """The names of Nova's available availability zones: one read, only for a stack that names some."""
    try:
        return frozenset(openstack.compute.get_availability_zones().names)
    except Exception as error:
        raise ConfigError("availability_zones", None, f"Nova's availability zones, readable with these credentials ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    """The last line of a provider invoke's error: the service's own words."""
    return str(error).strip().splitlines()[-1].lstrip("\t* ")


def _segments_kept(settings: NetworkSettings, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """With the segmentation id left to Neutron, the id it chose reads back as a change of the
    segment (a set, so no path inside it can be ignored): keep the segment as created. Neutron
    does not change the segment of a network in use anyway; another type or physical network
    is a new network (`pulumi up --replace` of the network)."""
    if settings.network_type == "flat" or settings.segmentation_id is not None:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["segments"]))


def _network_args(settings: NetworkSettings, openstack_name: str) -> dict:
    segment = openstack.networking.NetworkSegmentArgs(
        network_type=settings.network_type,
        physical_network=settings.physical_network,
        segmentation_id=settings.segmentation_id,
    )
    return {
        "name": openstack_name,
        "admin_state_up": True,
        "shared": False,
        "external": False,
        "segments": [segment],
        "mtu": settings.mtu,
        "description": "Octavia amphora management network",
    }


def _subnet_args(settings: NetworkSettings, openstack_name: str, network_id: pulumi.Output[str]) -> dict:
    args = {
        "name": openstack_name,
        "network_id": network_id,
        "cidr": str(settings.cidr),
        "ip_version": settings.ip_version,
        "enable_dhcp": settings.enable_dhcp,
        "dns_nameservers": [str(server) for server in settings.dns_servers],
    }
    if settings.pools_configured:
        args["allocation_pools"] = [
            openstack.networking.SubnetAllocationPoolArgs(start=str(pool.start), end=str(pool.end))
            for pool in settings.allocation_pools
        ]
    if settings.gateway_ip is None:
        args["no_gateway"] = True
    else:
        args["gateway_ip"] = str(settings.gateway_ip)
    if settings.ip_version == 6:
        args.update(ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    return args
