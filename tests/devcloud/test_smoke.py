"""Smoke test of the devcloud: through openstacksdk and the generated clouds.yaml, create and
delete one object of every type the Octavia foundation stack declares."""

from __future__ import annotations

import functools
import http.server
import json
import random
import subprocess
import threading

import openstack.exceptions
import pytest

HEALTH_MGR_OWNER = "Octavia:health-mgr"


def make_network(conn, cleanup, name, **provider):
    net = conn.network.create_network(name=name, **provider)
    cleanup(conn.network.delete_network, net)
    return net


def make_mgmt_network(conn, cleanup, unique):
    """A flat provider network with a subnet and an allocation pool, as the stack builds."""
    # flat_networks = *: any physical network name works, one flat network per name.
    net = make_network(conn, cleanup, f"smoke-mgmt-{unique}",
                       provider_network_type="flat", provider_physical_network=f"smoke{unique}")
    subnet = conn.network.create_subnet(
        name=f"smoke-mgmt-{unique}", network_id=net.id, ip_version=4, cidr="172.31.250.0/24",
        allocation_pools=[{"start": "172.31.250.50", "end": "172.31.250.250"}], enable_dhcp=False,
    )
    cleanup(conn.network.delete_subnet, subnet)
    return net, subnet


def make_qcow2(tmp_path, name="amphora.qcow2") -> bytes:
    path = tmp_path / name
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), "16M"], check=True, capture_output=True)
    return path.read_bytes()


def make_image(conn, cleanup, tmp_path, unique, owner=None):
    image = conn.image.create_image(
        f"smoke-amphora-{unique}", data=make_qcow2(tmp_path), disk_format="qcow2", container_format="bare",
        visibility="private", tags=[f"smoke-amp-{unique}"], hw_architecture="x86_64", hw_rng_model="virtio",
        **({"owner": owner} if owner else {}),
    )
    cleanup(conn.image.delete_image, image)
    return conn.image.get_image(image)


def make_compute_flavor(conn, cleanup, unique, project_id):
    flavor = conn.compute.create_flavor(name=f"smoke-amphora-{unique}", ram=1024, vcpus=1, disk=2, is_public=False)
    cleanup(conn.compute.delete_flavor, flavor)
    conn.compute.flavor_add_tenant_access(flavor, project_id)
    conn.compute.create_flavor_extra_specs(flavor, {"hw_rng:allowed": "True", "hw:cpu_policy": "shared"})
    return flavor


def test_flat_network_subnet_with_allocation_pool(conn, cleanup, unique):
    net, subnet = make_mgmt_network(conn, cleanup, unique)
    fetched = conn.network.get_network(net.id)
    assert fetched.provider_network_type == "flat"
    assert fetched.provider_physical_network == f"smoke{unique}"
    assert fetched.is_port_security_enabled is True  # the port_security extension is loaded
    assert conn.network.get_subnet(subnet.id).allocation_pools == [
        {"start": "172.31.250.50", "end": "172.31.250.250"}]


@pytest.mark.parametrize("physnet,segment", [("physnet1", 1500), ("lbaas", 3700)])
def test_vlan_provider_network(conn, cleanup, unique, physnet, segment):
    # 1500 lies in physnet1's tenant range, 3700 outside lbaas's: admins may use either.
    segment += random.randrange(100)  # other runs may hold a VLAN id for a while
    net = make_network(conn, cleanup, f"smoke-vlan-{unique}", provider_network_type="vlan",
                       provider_physical_network=physnet, provider_segmentation_id=segment)
    fetched = conn.network.get_network(net.id)
    assert (fetched.provider_network_type, fetched.provider_physical_network,
            fetched.provider_segmentation_id) == ("vlan", physnet, segment)


def test_overlay_networks(conn, cleanup, unique):
    for kind in ("vxlan", "geneve"):
        net = make_network(conn, cleanup, f"smoke-{kind}-{unique}", provider_network_type=kind)
        assert conn.network.get_network(net.id).provider_network_type == kind


def test_security_group_and_rule(conn, cleanup, unique, service_project):
    group = conn.network.create_security_group(name=f"smoke-hm-{unique}", project_id=service_project.id)
    cleanup(conn.network.delete_security_group, group)
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", ethertype="IPv4", protocol="udp",
        port_range_min=5555, port_range_max=5555, remote_ip_prefix="172.31.250.0/24",
    )
    cleanup(conn.network.delete_security_group_rule, rule)
    rules = conn.network.get_security_group(group.id).security_group_rules
    assert any(r["id"] == rule.id and r["port_range_min"] == 5555 for r in rules)


def test_health_manager_port(conn, cleanup, unique, service_project):
    net, subnet = make_mgmt_network(conn, cleanup, unique)
    group = conn.network.create_security_group(name=f"smoke-hm-{unique}", project_id=service_project.id)
    cleanup(conn.network.delete_security_group, group)
    port = conn.network.create_port(
        name=f"smoke-hm-{unique}", network_id=net.id, device_owner=HEALTH_MGR_OWNER,
        device_id=f"devcloud-{unique}", binding_host_id="devcloud", security_group_ids=[group.id],
        fixed_ips=[{"subnet_id": subnet.id, "ip_address": "172.31.250.10"}], project_id=service_project.id,
    )
    cleanup(conn.network.delete_port, port)
    fetched = conn.network.get_port(port.id)
    assert fetched.device_owner == HEALTH_MGR_OWNER
    assert fetched.binding_host_id == "devcloud"
    assert (fetched.binding_vif_type, fetched.status) == ("ovs", "ACTIVE")  # devcloud/devcloud_ml2.py bound it
    assert fetched.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "172.31.250.10"}]
    assert fetched.security_group_ids == [group.id]


def test_private_flavor_with_access_and_extra_specs(conn, cleanup, unique, service_project):
    flavor = make_compute_flavor(conn, cleanup, unique, service_project.id)
    assert conn.compute.get_flavor(flavor.id).is_public is False
    access = conn.compute.get_flavor_access(flavor)
    assert [a["tenant_id"] for a in access] == [service_project.id]
    assert conn.compute.fetch_flavor_extra_specs(flavor).extra_specs["hw_rng:allowed"] == "True"


def test_keypair(conn, cleanup, unique):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    keypair = conn.compute.create_keypair(name=f"smoke-{unique}", public_key=public)
    cleanup(conn.compute.delete_keypair, keypair)
    assert conn.compute.get_keypair(keypair.name).public_key == public


def test_server_group(conn, cleanup, unique):
    group = conn.compute.create_server_group(name=f"smoke-{unique}", policy="soft-anti-affinity")
    cleanup(conn.compute.delete_server_group, group)
    assert conn.compute.get_server_group(group.id).policy == "soft-anti-affinity"


def test_quotas(conn, service_project):
    project = service_project.id
    conn.compute.update_quota_set(project, server_groups=20, server_group_members=20, instances=50)
    assert conn.compute.get_quota_set(project).server_groups == 20
    conn.network.update_quota(project, port=500, security_group=50)
    assert conn.network.get_quota(project).ports == 500
    conn.load_balancer.update_quota(project, load_balancer=40, listener=-1)
    assert conn.load_balancer.get_quota(project).load_balancers == 40


def test_image_qcow2_owned_by_service_project(conn, cleanup, unique, tmp_path, service_project):
    image = make_image(conn, cleanup, tmp_path, unique, owner=service_project.id)
    assert image.status == "active"
    assert (image.disk_format, image.container_format, image.visibility) == ("qcow2", "bare", "private")
    assert image.owner == service_project.id
    assert image.tags == [f"smoke-amp-{unique}"]
    raw = conn.image.get(f"/images/{image.id}").json()  # as glance stores it, not as the SDK maps it
    assert (raw["hw_architecture"], raw["hw_rng_model"]) == ("x86_64", "virtio")
    assert image.size == len(make_qcow2(tmp_path, "again.qcow2"))


def test_image_web_download_import(conn, cleanup, unique, tmp_path):
    make_qcow2(tmp_path, "served.qcow2")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cleanup(server.shutdown)
    methods = conn.image.get("/info/import").json()["import-methods"]["value"]
    assert "web-download" in methods
    image = conn.image.create_image(f"smoke-web-{unique}", disk_format="qcow2", container_format="bare",
                                    visibility="private")
    cleanup(conn.image.delete_image, image)
    uri = f"http://127.0.0.1:{server.server_address[1]}/served.qcow2"
    response = conn.image.post(f"/images/{image.id}/import", json={"method": {"name": "web-download", "uri": uri}})
    assert response.status_code == 202, response.text
    image = conn.image.wait_for_status(image, "active", failures=["killed", "deleted"], interval=1, wait=180)
    assert image.size == (tmp_path / "served.qcow2").stat().st_size


def test_image_format_mismatch_is_rejected(conn, cleanup, unique):
    # Disk-format checks are on: data that is not qcow2 must not become an active qcow2 image.
    image = conn.image.create_image(f"smoke-bogus-{unique}", disk_format="qcow2", container_format="bare",
                                    visibility="private")
    cleanup(conn.image.delete_image, image)
    with pytest.raises(openstack.exceptions.HttpException):
        conn.image.upload_image(container_format="bare", disk_format="qcow2", id=image.id,
                                data=b"this is not a disk image" * 1000)
    assert conn.image.get_image(image.id).status != "active"


def test_octavia_flavor_profile_and_flavor(conn, cleanup, unique, tmp_path, service_project):
    # The amphora provider checks compute_flavor against nova and amp_image_tag against glance
    # (among the images of [controller_worker] amp_image_owner_id once a stack is applied).
    compute_flavor = make_compute_flavor(conn, cleanup, unique, service_project.id)
    image = make_image(conn, cleanup, tmp_path, unique, owner=service_project.id)
    data = {"loadbalancer_topology": "ACTIVE_STANDBY", "compute_flavor": compute_flavor.id,
            "amp_image_tag": image.tags[0]}
    profile = conn.load_balancer.create_flavor_profile(
        name=f"smoke-amphora-{unique}", provider_name="amphora", flavor_data=json.dumps(data))
    cleanup(conn.load_balancer.delete_flavor_profile, profile)
    flavor = conn.load_balancer.create_flavor(
        name=f"smoke-amphora-{unique}", flavor_profile_id=profile.id, enabled=True, description="smoke")
    cleanup(conn.load_balancer.delete_flavor, flavor)
    assert json.loads(conn.load_balancer.get_flavor_profile(profile.id).flavor_data) == data
    assert conn.load_balancer.get_flavor(flavor.id).flavor_profile_id == profile.id


def test_octavia_flavor_profile_with_unknown_compute_flavor_is_rejected(conn, unique):
    data = {"loadbalancer_topology": "SINGLE", "compute_flavor": "no-such-flavor"}
    with pytest.raises(openstack.exceptions.HttpException):
        conn.load_balancer.create_flavor_profile(
            name=f"smoke-bad-{unique}", provider_name="amphora", flavor_data=json.dumps(data))


def test_octavia_availability_zone(conn, cleanup, unique):
    net, _ = make_mgmt_network(conn, cleanup, unique)
    profile = conn.load_balancer.create_availability_zone_profile(
        name=f"smoke-az-{unique}", provider_name="amphora",
        availability_zone_data=json.dumps({"management_network": net.id}))
    cleanup(conn.load_balancer.delete_availability_zone_profile, profile)
    zone = conn.load_balancer.create_availability_zone(
        name=f"smoke-az-{unique}", availability_zone_profile_id=profile.id, enabled=True)
    cleanup(conn.load_balancer.delete_availability_zone, zone.name)  # zones are addressed by name
    assert conn.load_balancer.get_availability_zone(zone.name).availability_zone_profile_id == profile.id


def test_servers_of_a_hard_anti_affinity_group_land_on_both_compute_hosts(conn, cleanup, unique, tmp_path):
    from devcloud.devcloud import COMPUTE_HOSTS

    net, subnet = make_mgmt_network(conn, cleanup, unique)
    image = make_image(conn, cleanup, tmp_path, unique)
    flavor = conn.compute.create_flavor(name=f"smoke-boot-{unique}", ram=512, vcpus=1, disk=1)
    cleanup(conn.compute.delete_flavor, flavor)
    group = conn.compute.create_server_group(name=f"smoke-boot-{unique}", policy="anti-affinity")
    cleanup(conn.compute.delete_server_group, group)
    servers = []
    for n in range(2):
        # One boot at a time: two in flight can both be scheduled to one host, and with two hosts
        # Nova's late anti-affinity check then reschedules both into each other (MaxRetriesExceeded).
        server = conn.compute.create_server(name=f"smoke-boot-{unique}-{n}", image_id=image.id, flavor_id=flavor.id,
                                            networks=[{"uuid": net.id}], scheduler_hints={"group": group.id})
        cleanup(conn.compute.wait_for_delete, server)
        cleanup(conn.compute.delete_server, server)
        servers.append(conn.compute.wait_for_server(server, wait=120))
    assert sorted(server.compute_host for server in servers) == sorted(COMPUTE_HOSTS)
    for server in servers:
        [port] = conn.network.ports(device_id=server.id)
        assert (port.binding_host_id, port.binding_vif_type) == (server.compute_host, "ovs")


def test_router_with_an_ipv6_subnet(conn, cleanup, unique):
    """The router API (no L3 agent): IPv6 management networks get a router for their advertisements."""
    net = make_network(conn, cleanup, f"smoke-v6-{unique}", provider_network_type="vxlan")
    subnet = conn.network.create_subnet(name=f"smoke-v6-{unique}", network_id=net.id, ip_version=6,
                                        cidr="fd42:29:232::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    cleanup(conn.network.delete_subnet, subnet)
    router = conn.network.create_router(name=f"smoke-v6-{unique}")
    cleanup(conn.network.delete_router, router)
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    cleanup(conn.network.remove_interface_from_router, router, subnet=subnet.id)
    [port] = conn.network.ports(device_id=router.id)
    assert port.fixed_ips[0]["subnet_id"] == subnet.id
