#!/usr/bin/env python3
"""The OpenTofu way: the benchmark's resource set as an OpenTofu configuration (JSON syntax,
main.tf.json) for terraform-provider-openstack, the provider the Pulumi OpenStack plugin bridges.

    python benchmarks/tofu_config.py SPEC.json DIR     (writes DIR/main.tf.json)

SPEC.json is written by benchmarks/run.py from this project's own settings code, the same data the
openstacksdk script and the Ansible playbook get, so OpenTofu declares the same cloud objects as
`pulumi up` of the benchmark stack (PKI aside: it is Pulumi-only). The service project and
Octavia's service user (the keypair's owner, as in the program) are looked up by name, as the
program looks them up. The quota resources' deletion is a no-op in the provider, so `tofu destroy`
leaves the quotas as they are, as the other tools do.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PROVIDER_SOURCE = "registry.opentofu.org/terraform-provider-openstack/openstack"


def ref(address: str, attribute: str = "id") -> str:
    return "${" + f"{address}.{attribute}" + "}"


def tofu_config(spec: dict, provider_version: str) -> dict:
    """main.tf.json for the spec: one resource block per cloud object, named after the spec's keys."""
    net, sub, flavor, keypair, image = (spec[k] for k in ("network", "subnet", "flavor", "keypair", "image"))
    project, owner = "data.openstack_identity_project_v3.service", "data.openstack_identity_user_v3.octavia"
    subnet = {"name": sub["name"], "network_id": ref("openstack_networking_network_v2.mgmt"), "cidr": sub["cidr"],
              "ip_version": 4, "enable_dhcp": sub["enable_dhcp"], "dns_nameservers": sub["dns_nameservers"],
              "allocation_pool": sub["allocation_pools"]}
    if sub["gateway_ip"] is None:
        subnet["no_gateway"] = True
    else:
        subnet["gateway_ip"] = sub["gateway_ip"]
    resources: dict = {
        "openstack_networking_network_v2": {"mgmt": {
            "name": net["name"], "description": net["description"], "admin_state_up": True, "shared": False,
            "external": False, "segments": [{"network_type": net["type"], "physical_network": net["physical_network"]}]}},
        "openstack_networking_subnet_v2": {"mgmt": subnet},
        "openstack_networking_secgroup_v2": {}, "openstack_networking_secgroup_rule_v2": {},
        "openstack_networking_port_v2": {},
        "openstack_compute_flavor_v2": {"amphora": {
            "name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
            "is_public": False, "extra_specs": flavor["extra_specs"], "description": flavor["description"]}},
        "openstack_compute_flavor_access_v2": {"service": {
            "flavor_id": ref("openstack_compute_flavor_v2.amphora"), "tenant_id": ref(project)}},
        "openstack_compute_keypair_v2": {"amphora": {
            "name": keypair["name"], "public_key": keypair["public_key"], "user_id": ref(owner)}},
        "openstack_images_image_v2": {"amphora": {
            "name": image["name"], "local_file_path": image["file"], "container_format": "bare",
            "disk_format": "qcow2", "visibility": "private", "tags": image["tags"], "properties": image["properties"]}},
        "openstack_lb_flavorprofile_v2": {}, "openstack_lb_flavor_v2": {},
        "openstack_compute_quotaset_v2": {"service": {"project_id": ref(project), **spec["quotas"]["nova"]}},
        "openstack_networking_quota_v2": {"service": {"project_id": ref(project), **spec["quotas"]["neutron"]}},
    }
    for group in spec["security_groups"]:
        key = group["key"].replace("-", "_")
        resources["openstack_networking_secgroup_v2"][key] = {
            "name": group["name"], "description": group["description"], "delete_default_rules": False}
        for i, rule in enumerate(group["rules"]):
            resources["openstack_networking_secgroup_rule_v2"][f"{key}_{i}"] = {
                "security_group_id": ref(f"openstack_networking_secgroup_v2.{key}"), "direction": "ingress",
                "ethertype": "IPv4", "protocol": rule["protocol"], "port_range_min": rule["port"],
                "port_range_max": rule["port"], "remote_ip_prefix": rule["remote_ip_prefix"],
                "description": rule["description"]}
    for port in spec["ports"]:
        group = port["security_group"].replace("-", "_")
        resources["openstack_networking_port_v2"][port["host"]] = {
            "name": port["name"], "network_id": ref("openstack_networking_network_v2.mgmt"),
            "device_owner": port["device_owner"], "binding": [{"host_id": port["host"]}],
            "fixed_ip": [{"subnet_id": ref("openstack_networking_subnet_v2.mgmt")}],
            "security_group_ids": [ref(f"openstack_networking_secgroup_v2.{group}")], "admin_state_up": True}
    for octavia in spec["octavia_flavors"]:
        key = octavia["flavor_data"]["loadbalancer_topology"].lower()
        data = ", ".join(f"{k} = {json.dumps(v)}" for k, v in octavia["flavor_data"].items())
        resources["openstack_lb_flavorprofile_v2"][key] = {
            "name": octavia["name"], "provider_name": "amphora",
            # jsonencode sorts the keys and adds no spaces: the normal form Octavia is given by the others.
            "flavor_data": "${jsonencode({" + data + ", compute_flavor = openstack_compute_flavor_v2.amphora.id})}",
            # As in the program: the flavor usable by the service project, the tagged image there.
            "depends_on": ["openstack_compute_flavor_access_v2.service", "openstack_images_image_v2.amphora"]}
        resources["openstack_lb_flavor_v2"][key] = {
            "name": octavia["name"], "description": octavia["description"],
            "flavor_profile_id": ref(f"openstack_lb_flavorprofile_v2.{key}"), "enabled": True}
    return {
        "terraform": {"required_providers": {"openstack": {"source": PROVIDER_SOURCE, "version": provider_version}}},
        # Credentials from OS_CLOUD / OS_CLIENT_CONFIG_FILE, as the other tools take them.
        "provider": {"openstack": {}},
        "data": {
            "openstack_identity_project_v3": {"service": {"name": spec["project"], "domain_id": "default"}},
            "openstack_identity_user_v3": {"octavia": {"name": keypair["user"], "domain_id": keypair["user_domain"]}},
        },
        "resource": {kind: blocks for kind, blocks in resources.items() if blocks},
    }


def write(spec: dict, directory: Path, provider_version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "main.tf.json"
    path.write_text(json.dumps(tofu_config(spec, provider_version), indent=1) + "\n")
    return path


def provider_version() -> str:
    """TERRAFORM_PROVIDER_OPENSTACK_VERSION of tools/versions.env: the provider built for OpenTofu."""
    env = Path(__file__).resolve().parent.parent / "tools/versions.env"
    pins = dict(line.split("=", 1) for line in env.read_text().splitlines() if re.match(r"^[A-Z_]+=", line))
    return pins["TERRAFORM_PROVIDER_OPENSTACK_VERSION"]


if __name__ == "__main__":
    print(write(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), provider_version()))
