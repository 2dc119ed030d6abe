"""An IPv6 management network on a VLAN: the stack deploys (with its router for the
advertisements), Octavia's worker builds a load balancer whose amphora sits on it, and the
amphora's logs reach the controller over IPv6."""

from __future__ import annotations

import ipaddress
import random

from devcloud import devcloud as dc
from testbed.live_cloud import connect, engine, outputs
from testbed.octavia_support import (
    AmphoraNamespace,
    Tenant,
    amphora_servers,
    apply_stack,
    forward_amphora_logs,
    wait_active,
    wait_gone,
)

CIDR = ipaddress.ip_network("fd42:29:232::/64")


def test_an_ipv6_management_network_carries_a_working_loadbalancer(stacks, devcloud_env, tmp_path):
    stack = stacks.create("local", {
        "mgmt_network_type": "vlan", "mgmt_physical_network": "lbaas",
        "mgmt_segmentation_id": random.randint(2200, 2999),  # apart from dev's 2101 and prod's 3101
        "mgmt_subnet_cidr": str(CIDR), "mgmt_allocation_pools": [], "health_managers": [{"host": "devcloud"}],
    })
    assert engine(stack.up).summary.result == "succeeded"
    out = outputs(stack.outputs())
    hm_address = ipaddress.ip_address(out["health_manager_ips"]["devcloud"])
    assert hm_address in CIDR
    assert out["controller_ip_port_list"] == f"[{hm_address}]:5555"
    apply_stack(stack)
    assert dc.controller_host()["address"] == str(hm_address)

    admin = connect(devcloud_env)
    tenant = Tenant(admin, f"{dc.KEYSTONE_URL}/v3")
    try:
        lbs = tenant.conn.load_balancer
        lb = lbs.create_load_balancer(name=f"{tenant.name}-v6", vip_subnet_id=tenant.subnet.id,
                                      flavor_id=out["octavia_flavor_ids"]["SINGLE"])
        wait_active(lambda: lbs.get_load_balancer(lb.id), "load balancer on an IPv6 management network")
        [amp] = amphora_servers(admin, lb.id, out["mgmt_network_id"])
        [port] = amp.mgmt_ports
        assert ipaddress.ip_address(amp.lb_network_ip) in CIDR
        assert port.fixed_ips[0]["ip_address"] == amp.lb_network_ip
        namespace = AmphoraNamespace(amp.lb_network_ip, CIDR.prefixlen)
        try:  # log offload: IPv6 targets rsyslog can resolve
            received = forward_amphora_logs(namespace, out["octavia_conf"], str(hm_address), tmp_path)
        finally:
            namespace.delete()
        assert "admin-probe" in received["admin"] and "tenant-probe" in received["tenant"], received
        lbs.delete_load_balancer(lb.id, cascade=True)
        wait_gone(lambda: lbs.find_load_balancer(lb.id), "load balancer")
        wait_gone(lambda: admin.compute.find_server(amp.server.id, all_projects=True), "amphora server")
    finally:
        tenant.delete()
        admin.close()
