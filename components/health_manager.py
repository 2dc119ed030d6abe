"""One Neutron port per health-manager host: how each controller joins the management network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from config.names import ResourceNames
from config.settings import HealthManagerHost

DEVICE_OWNER = "Octavia:health-mgr"


def ip_port(ip: str, port: int) -> str:
    """One controller_ip_port_list entry; IPv6 in brackets, which Octavia strips."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def log_target(ip: str, port: int) -> str:
    """One [amphora_agent] *_log_targets entry: IPv6 without brackets. Octavia splits host from
    port at the last colon and hands the host to rsyslog's omfwd, which cannot resolve
    "[fd42::10]" (checked with rsyslog 8.2302)."""
    return f"{ip}:{port}"


@dataclass(frozen=True)
class HealthManagerPortsArgs:
    hosts: tuple[HealthManagerHost, ...]
    bind_port: int
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    names: ResourceNames


class HealthManagerPorts(pulumi.ComponentResource):
    """Outputs: ports {host: port id}, ips {host: ip}, controller_ip_port_list; also macs {host: MAC}."""

    def __init__(self, name: str, args: HealthManagerPortsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:healthmanager:HealthManagerPorts", name, None, opts)
        ports = {host.name: self._port(name, host, args) for host in args.hosts}
        self.ports = {host: port.id for host, port in ports.items()}
        self.ips = {host: port.all_fixed_ips[0] for host, port in ports.items()}
        self.macs = {host: port.mac_address for host, port in ports.items()}
        self.controller_ip_port_list = pulumi.Output.all(*self.ips.values()).apply(
            lambda ips: ",".join(ip_port(ip, args.bind_port) for ip in ips)
        )
        self.register_outputs(
            {"ports": self.ports, "ips": self.ips, "controller_ip_port_list": self.controller_ip_port_list}
        )

    def port_details(self) -> pulumi.Output[dict[str, dict[str, str]]]:
        """{host: {id, mac_address, ip_address}}: what the host side binds its interface to."""
        return pulumi.Output.all(ids=self.ports, macs=self.macs, ips=self.ips).apply(
            lambda v: {
                host: {"id": v["ids"][host], "mac_address": v["macs"][host], "ip_address": v["ips"][host]}
                for host in v["ids"]
            }
        )

    def log_targets(self, port: int) -> pulumi.Output[str]:
        """Every controller as a receiver of amphora logs on port: the first is the primary."""
        return pulumi.Output.all(*self.ips.values()).apply(lambda ips: ",".join(log_target(ip, port) for ip in ips))

    def _port(self, name: str, host: HealthManagerHost, args: HealthManagerPortsArgs) -> openstack.networking.Port:
        return openstack.networking.Port(
            f"{name}-{host.name}",
            name=args.names.health_manager_port(host.name),
            network_id=args.network_id,
            device_owner=DEVICE_OWNER,
            binding=openstack.networking.PortBindingArgs(host_id=host.name),
            fixed_ips=[
                openstack.networking.PortFixedIpArgs(
                    subnet_id=args.subnet_id, ip_address=str(host.ip) if host.ip else None
                )
            ],
            security_group_ids=[args.security_group_id],
            admin_state_up=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
