"""OctaviaFoundation: every cloud resource the amphora driver needs, from validated settings."""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from components.availability_zones import AvailabilityZones, AvailabilityZonesArgs
from components.compute import AmphoraFlavor, AmphoraFlavorArgs, AmphoraKeypair, AmphoraKeypairArgs
from render.firewall import render_health_manager_firewalls
from render.host_plug import render_health_manager_plugs
from components.health_manager import HealthManagerPorts, HealthManagerPortsArgs
from components.identity import Identities
from components.image import AmphoraImages, AmphoraImagesArgs
from components.network import ManagementNetwork, ManagementNetworkArgs
from components.octavia_flavors import OctaviaFlavors, OctaviaFlavorsArgs
from render.outputs import CERTIFICATE_OUTPUTS, OUTPUT_NAMES
from components.pki import OctaviaPki
from components.quotas import ServiceQuotas, ServiceQuotasArgs, quota_values
from render.rendering import (
    render_kolla_ansible,
    render_kolla_octavia_conf,
    render_octavia_conf,
    render_openstack_ansible,
    with_cert_paths,
)
from components.security_groups import (
    LOG_OFFLOAD_PORTS,
    SecurityGroups,
    SecurityGroupsArgs,
    rule_table,
)
from config.names import names
from config.settings import Settings

# PKI children that hold a CA: protected in production, unlike the client certificate, which must
# stay free to renew itself.
CA_RESOURCE_SUFFIXES = ("-server-ca", "-client-ca")
WILDCARD_BIND_IP = {4: "0.0.0.0", 6: "::"}
# octavia.conf's [amphora_agent] log targets: where amphorae send their logs when log_offload is on.
LOG_TARGETS = {"admin_log_targets": LOG_OFFLOAD_PORTS["admin-log"], "tenant_log_targets": LOG_OFFLOAD_PORTS["tenant-log"]}


class OctaviaFoundation(pulumi.ComponentResource):
    """Attribute `outputs`: the stack outputs, keyed by render.outputs.OUTPUT_NAMES."""

    def __init__(
        self, name: str, settings: Settings, identities: Identities, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("octavia-infra:foundation:OctaviaFoundation", name, None, opts)
        resource_names, child = names(settings), pulumi.ResourceOptions(parent=self)
        project_id = identities.service_project_id

        network = ManagementNetwork(
            f"{name}-mgmt", ManagementNetworkArgs(settings.network, resource_names.network, settings.protect), child
        )
        # Only a stack with zones has the component: a new one would show in every older stack's preview.
        zones = settings.availability_zones and AvailabilityZones(
            f"{name}-azs",
            AvailabilityZonesArgs(
                settings.availability_zones, network.network_id, network.subnet_id, network.cidr, resource_names,
                settings.protect,
            ),
            child,
        )
        groups = SecurityGroups(
            f"{name}-secgroups",
            SecurityGroupsArgs(rule_table(settings), network.cidr, settings.network.ip_version, resource_names),
            child,
        )
        health_managers = HealthManagerPorts(
            f"{name}-health-manager",
            HealthManagerPortsArgs(
                settings.health_managers,
                settings.health_manager_port,
                network.network_id,
                network.subnet_id,
                groups.health_manager_id,
                resource_names,
            ),
            child,
        )
        flavor = AmphoraFlavor(f"{name}-amp-flavor", AmphoraFlavorArgs(settings.flavor, project_id, resource_names), child)
        images = AmphoraImages(f"{name}-amp-image", AmphoraImagesArgs(settings.image, project_id, resource_names), child)
        octavia_flavors = OctaviaFlavors(
            f"{name}-octavia-flavors",
            OctaviaFlavorsArgs(settings.topology.offered, flavor.flavor_id, images.tag, images.current, resource_names),
            child,
        )
        if settings.capacity.manage_quotas:
            ServiceQuotas(f"{name}-quotas", ServiceQuotasArgs(quota_values(settings), project_id), child)
        key_name, private_key = self._keypair(name, settings, identities.octavia_user_id)
        pki = OctaviaPki(
            f"{name}-pki",
            settings.pki,
            pulumi.ResourceOptions(parent=self, transformations=[_protect_cas] if settings.protect else None),
        )

        outputs: dict[str, Any] = {
            "mgmt_network_id": network.network_id,
            "mgmt_subnet_id": network.subnet_id,
            "mgmt_subnet_cidr": network.cidr,
            "availability_zones": zones.zones if zones else {},
            "amphora_secgroup_id": groups.amphora_id,
            "health_manager_secgroup_id": groups.health_manager_id,
            "amp_flavor_id": flavor.flavor_id,
            "amp_ssh_key_name": key_name,
            "amp_ssh_private_key": private_key,
            "amp_image_id": images.current_id,
            "amp_image_tag": images.tag,
            "amp_image_owner_id": images.owner_id,
            "health_manager_ports": health_managers.ports,
            "health_manager_ips": health_managers.ips,
            "controller_ip_port_list": health_managers.controller_ip_port_list,
            "health_manager_firewall": render_health_manager_firewalls(settings),
            "health_manager_plugs": health_managers.port_details().apply(
                lambda ports: render_health_manager_plugs(settings, ports)
            ),
            "octavia_flavor_ids": octavia_flavors.flavor_ids,
            "octavia_flavor_profile_ids": octavia_flavors.profile_ids,
            "loadbalancer_topology": settings.topology.default,
            **{name: getattr(pki, name) for name in CERTIFICATE_OUTPUTS},
        }
        outputs.update(_rendered(settings, outputs, health_managers))
        mismatch = set(OUTPUT_NAMES) ^ set(outputs)
        if mismatch:
            raise RuntimeError(f"outputs and OUTPUT_NAMES disagree: {sorted(mismatch)}")
        self.outputs = {name: outputs[name] for name in OUTPUT_NAMES}
        self.register_outputs(self.outputs)

    def _keypair(
        self, name: str, settings: Settings, octavia_user_id: Optional[str]
    ) -> tuple[pulumi.Input[str], pulumi.Input[str]]:
        if not settings.access.ssh_enabled:
            return "", pulumi.Output.secret("")
        keypair = AmphoraKeypair(
            f"{name}-ssh",
            AmphoraKeypairArgs(settings.access.ssh_public_key, names(settings), octavia_user_id),
            pulumi.ResourceOptions(parent=self),
        )
        return keypair.key_name, keypair.private_key


def _protect_cas(args: pulumi.ResourceTransformationArgs) -> Optional[pulumi.ResourceTransformationResult]:
    if args.name.endswith(CA_RESOURCE_SUFFIXES):
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
        )
    return None


def _rendered(settings: Settings, outputs: dict[str, Any], health_managers: HealthManagerPorts) -> dict[str, Any]:
    """octavia.conf and deployment-tool variables from settings and resolved outputs."""
    network = settings.network
    plain = {
        "mgmt_network_name": names(settings).network,
        "amp_flavor_name": names(settings).flavor,
        "octavia_service_user": settings.octavia_service_user,
        "service_project": settings.service_project,
        "service_project_domain": settings.service_project_domain,
        "ssh_enabled": settings.access.ssh_enabled,
        "health_manager_port": settings.health_manager_port,
        # One rendering for every controller: bind all addresses; a per-host bind_ip is
        # health_manager_ips[host].
        "bind_ip": WILDCARD_BIND_IP[network.ip_version],
        "enable_anti_affinity": settings.topology.anti_affinity,
        "anti_affinity_policy": settings.topology.anti_affinity_policy,
        "amp_availability_zone": settings.amp_availability_zone,
        **{f"octavia_tenant_quotas.{name}": value for name, value in settings.octavia_tenant_quotas.items()},
    }
    public = {
        key: outputs[key]
        for key in (
            "mgmt_network_id",
            "amphora_secgroup_id",
            "amp_flavor_id",
            "amp_image_tag",
            "amp_image_owner_id",
            "amp_ssh_key_name",
            "loadbalancer_topology",
            "controller_ip_port_list",
        )
    }
    public["health_manager_ip_list"] = pulumi.Output.all(*health_managers.ips.values()).apply(",".join)
    for key, port in LOG_TARGETS.items():
        public[key] = health_managers.log_targets(port) if settings.access.log_offload else None
    secret = {
        key: outputs[key] for key in ("heartbeat_key", "ca_private_key_passphrase", "server_certs_key_passphrase")
    }
    everything = pulumi.Output.all(**plain, **public, **secret).apply(lambda v: with_cert_paths(v, settings.cert_dir))
    non_secret = pulumi.Output.all(**plain, **public).apply(lambda v: with_cert_paths(v, settings.cert_dir))
    return {
        "octavia_conf": pulumi.Output.secret(everything.apply(render_octavia_conf)),
        "openstack_ansible_user_variables": pulumi.Output.secret(everything.apply(render_openstack_ansible)),
        "kolla_ansible_globals": non_secret.apply(render_kolla_ansible),
        "kolla_ansible_octavia_conf": pulumi.Output.secret(everything.apply(render_kolla_octavia_conf)),
    }
