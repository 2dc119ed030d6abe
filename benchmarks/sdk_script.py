#!/usr/bin/env python3
"""The devstack-style way: a plain, sequential openstacksdk script over the benchmark's resource set.

    python benchmarks/sdk_script.py apply   --spec SPEC.json
    python benchmarks/sdk_script.py destroy --spec SPEC.json

SPEC.json is written by benchmarks/run.py from this project's own settings code, so the script
creates the same resources as `pulumi up` of the benchmark stack (PKI aside: it is Pulumi-only).
`apply` is find-or-create (and update where a value differs), so a second `apply` is a no-change
run. Last line of output: {"changed": [what it changed]}. Credentials: OS_CLOUD / OS_CLIENT_CONFIG_FILE
(an admin: the keypair is created for Octavia's service user, Nova API microversion 2.10+).
The service project's Nova and Neutron quotas are set by `apply` and left as they are by `destroy`
(as the other two tools do); Octavia's quotas are the tenants', not the service project's.
"""

from __future__ import annotations

import argparse
import json
import sys

import openstack

NEUTRON_QUOTA = {"port": "ports", "security_group": "security_groups", "security_group_rule": "security_group_rules"}


class Applier:
    def __init__(self, conn, spec: dict):
        self.conn, self.spec, self.changed = conn, spec, []
        self.project_id = conn.identity.find_project(spec["project"], domain_id="default", ignore_missing=False).id
        owner = spec["keypair"]
        self.keypair_owner_id = conn.identity.find_user(owner["user"], domain_id=owner["user_domain"],
                                                        ignore_missing=False).id

    def change(self, what: str):
        self.changed.append(what)

    def apply(self) -> None:
        net, spec = self.conn.network, self.spec
        n = spec["network"]
        network = net.find_network(n["name"])
        if network is None:
            network = net.create_network(name=n["name"], admin_state_up=True, shared=False, is_router_external=False,
                                         provider_network_type=n["type"], provider_physical_network=n["physical_network"],
                                         description=n["description"])
            self.change("network")
        s = spec["subnet"]
        subnet = net.find_subnet(s["name"], network_id=network.id)
        if subnet is None:
            subnet = net.create_subnet(name=s["name"], network_id=network.id, cidr=s["cidr"], ip_version=4,
                                       enable_dhcp=s["enable_dhcp"], dns_nameservers=s["dns_nameservers"],
                                       allocation_pools=s["allocation_pools"], gateway_ip=s["gateway_ip"])
            self.change("subnet")
        elif list(subnet.dns_nameservers) != s["dns_nameservers"]:
            net.update_subnet(subnet, dns_nameservers=s["dns_nameservers"])
            self.change("subnet dns_nameservers")
        groups = {}
        for g in spec["security_groups"]:
            group = net.find_security_group(g["name"], project_id=self.project_id)
            if group is None:
                group = net.create_security_group(name=g["name"], description=g["description"])
                self.change("security group")
            groups[g["key"]] = group
            existing = {(r.protocol, r.port_range_min, r.remote_ip_prefix)
                        for r in net.security_group_rules(security_group_id=group.id, direction="ingress")}
            for rule in g["rules"]:
                if (rule["protocol"], rule["port"], rule["remote_ip_prefix"]) in existing:
                    continue
                net.create_security_group_rule(security_group_id=group.id, direction="ingress", ethertype="IPv4",
                                               protocol=rule["protocol"], port_range_min=rule["port"],
                                               port_range_max=rule["port"], remote_ip_prefix=rule["remote_ip_prefix"],
                                               description=rule["description"])
                self.change("security group rule")
        for p in spec["ports"]:
            if net.find_port(p["name"], network_id=network.id) is None:
                net.create_port(name=p["name"], network_id=network.id, device_owner=p["device_owner"],
                                binding_host_id=p["host"], fixed_ips=[{"subnet_id": subnet.id}],
                                security_group_ids=[groups[p["security_group"]].id], admin_state_up=True)
                self.change("port")
        self.apply_compute()
        image = self.apply_image()
        self.apply_octavia_flavors(image)
        self.apply_quotas()

    def apply_compute(self) -> None:
        compute, f = self.conn.compute, self.spec["flavor"]
        flavor = next((x for x in compute.flavors(is_public=None) if x.name == f["name"]), None)
        if flavor is None:
            flavor = compute.create_flavor(name=f["name"], vcpus=f["vcpus"], ram=f["ram"], disk=f["disk"],
                                           is_public=False, description=f["description"])
            compute.create_flavor_extra_specs(flavor, f["extra_specs"])
            self.change("flavor")
        if self.project_id not in {a["tenant_id"] for a in compute.get_flavor_access(flavor)}:
            compute.flavor_add_tenant_access(flavor, self.project_id)
            self.change("flavor access")
        self.flavor_id = flavor.id
        k = self.spec["keypair"]
        if compute.find_keypair(k["name"], user_id=self.keypair_owner_id) is None:
            compute.create_keypair(name=k["name"], public_key=k["public_key"], user_id=self.keypair_owner_id)
            self.change("keypair")

    def apply_image(self):
        i = self.spec["image"]
        image = self.conn.image.find_image(i["name"])
        if image is None:
            image = self.conn.create_image(i["name"], filename=i["file"], disk_format="qcow2", container_format="bare",
                                           visibility="private", tags=i["tags"], wait=True, meta=i["properties"])
            self.change("image")
        return image

    def apply_octavia_flavors(self, image) -> None:
        lb = self.conn.load_balancer
        for o in self.spec["octavia_flavors"]:
            data = json.dumps({**o["flavor_data"], "compute_flavor": self.flavor_id}, sort_keys=True, separators=(",", ":"))
            profile = lb.find_flavor_profile(o["name"])
            if profile is None:
                profile = lb.create_flavor_profile(name=o["name"], provider_name="amphora", flavor_data=data)
                self.change("flavor profile")
            if lb.find_flavor(o["name"]) is None:
                lb.create_flavor(name=o["name"], flavor_profile_id=profile.id, description=o["description"], is_enabled=True)
                self.change("octavia flavor")

    def apply_quotas(self) -> None:
        q = self.spec["quotas"]
        nova = self.conn.compute.get_quota_set(self.project_id)
        if any(getattr(nova, k) != v for k, v in q["nova"].items()):
            self.conn.compute.update_quota_set(self.project_id, **q["nova"])
            self.change("nova quotas")
        want = {NEUTRON_QUOTA[k]: v for k, v in q["neutron"].items()}
        have = self.conn.network.get_quota(self.project_id)
        if any(getattr(have, k) != v for k, v in want.items()):
            self.conn.network.update_quota(have, **want)
            self.change("neutron quotas")

    def destroy(self) -> None:
        lb, net, compute, spec = self.conn.load_balancer, self.conn.network, self.conn.compute, self.spec
        for o in spec["octavia_flavors"]:
            for find, delete in ((lb.find_flavor, lb.delete_flavor), (lb.find_flavor_profile, lb.delete_flavor_profile)):
                found = find(o["name"])
                if found is not None:
                    delete(found)
                    self.change("octavia flavor/profile")
        image = self.conn.image.find_image(spec["image"]["name"])
        if image is not None:
            self.conn.image.delete_image(image)
            self.change("image")
        if compute.find_keypair(spec["keypair"]["name"], user_id=self.keypair_owner_id) is not None:
            compute.delete_keypair(spec["keypair"]["name"], user_id=self.keypair_owner_id)
            self.change("keypair")
        flavor = next((x for x in compute.flavors(is_public=None) if x.name == spec["flavor"]["name"]), None)
        if flavor is not None:
            compute.delete_flavor(flavor)
            self.change("flavor")
        network = net.find_network(spec["network"]["name"])
        if network is not None:
            for p in spec["ports"]:
                port = net.find_port(p["name"], network_id=network.id)
                if port is not None:
                    net.delete_port(port)
                    self.change("port")
        for g in spec["security_groups"]:
            group = net.find_security_group(g["name"], project_id=self.project_id)
            if group is not None:
                net.delete_security_group(group)  # its rules go with it
                self.change("security group")
        if network is not None:
            subnet = net.find_subnet(spec["subnet"]["name"], network_id=network.id)
            if subnet is not None:
                net.delete_subnet(subnet)
                self.change("subnet")
            net.delete_network(network)
            self.change("network")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("apply", "destroy"))
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    applier = Applier(openstack.connect(), spec)
    getattr(applier, args.action)()
    print(json.dumps({"changed": applier.changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
