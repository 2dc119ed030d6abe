"""Octavia's own controller builds load balancers on the foundation (real engine, devcloud).

The local example stack is deployed, its outputs configure the devcloud's Octavia (worker, health
manager, housekeeping; Nova with two fake-driver computes, Placement, RabbitMQ), and a tenant,
not the service project, creates load balancers with the stack's Octavia flavors. Everything the
amphorae got is read back from Nova, Neutron, Glance and Octavia. Then the day-2 steps: a new
image version and a failover booting from it, a second controller; heartbeats signed with the
stack's key, sent by Octavia's amphora-side code from a network namespace on the management
network; and at the end nothing is left behind. The ordered tests share the stack and the
tenant: read the first failure first.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import subprocess
import time
import uuid
from pathlib import Path

import openstack.exceptions
import pytest

from devcloud import devcloud as dc
from testbed.stacks import make_test_image, write_config
from testbed.live_cloud import connect, engine, leftovers, outputs, recorded_ids
from testbed.octavia_support import (
    AmphoraNamespace,
    Tenant,
    amphora_servers,
    apply_stack,
    forward_amphora_logs,
    wait_active,
    wait_gone,
)

MGMT_CIDR = ipaddress.ip_network("172.29.232.0/24")  # stacks/Pulumi.local.yaml
ALLOCATION_POOL = (ipaddress.ip_address("172.29.232.50"), ipaddress.ip_address("172.29.232.250"))
TENANT_LOADBALANCERS = 2  # octavia_tenant_quotas.load_balancer: the two this module builds


class Scene:
    """The shared stack, its outputs, the admin and tenant connections, and what tests create."""

    def __init__(self, stack, admin, tenant, service_project_id):
        self.stack, self.admin, self.tenant, self.service_project_id = stack, admin, tenant, service_project_id
        self.out: dict = {}
        self.loadbalancers: dict[str, object] = {}  # topology -> load balancer

    def refresh_outputs(self) -> dict:
        self.out = outputs(self.stack.outputs())
        return self.out

    def up_and_apply(self) -> None:
        result = engine(self.stack.up)
        assert result.summary.result == "succeeded"
        self.refresh_outputs()
        apply_stack(self.stack)


@pytest.fixture(scope="module")
def scene(module_stacks, devcloud_env):
    stack = module_stacks.create("local", {"octavia_tenant_quotas": {"load_balancer": TENANT_LOADBALANCERS}})
    admin = connect(devcloud_env)
    tenant = None
    try:
        tenant = Tenant(admin, f"{dc.KEYSTONE_URL}/v3")
        service = admin.identity.find_project("service", ignore_missing=False)
        yield Scene(stack, admin, tenant, service.id)
    finally:
        if tenant:
            tenant.delete()  # load balancers first: the stack's network cannot go while amphorae use it
        admin.close()


def create_loadbalancer(scene: Scene, topology: str):
    lbs = scene.tenant.conn.load_balancer
    lb = lbs.create_load_balancer(name=f"{scene.tenant.name}-{topology.lower()}", vip_subnet_id=scene.tenant.subnet.id,
                                  flavor_id=scene.out["octavia_flavor_ids"][topology])
    lb = wait_active(lambda: lbs.get_load_balancer(lb.id), f"{topology} load balancer")
    scene.loadbalancers[topology] = lb
    return lb


def check_amphorae(scene: Scene, lb, count: int) -> list:
    """Every amphora of lb booted as the stack declared; returns them."""
    out = scene.out
    amphorae = amphora_servers(scene.admin, lb.id, out["mgmt_network_id"])
    assert len(amphorae) == count, amphorae
    flavor_name = scene.admin.compute.get_flavor(out["amp_flavor_id"]).name
    for amp in amphorae:
        server = amp.server
        assert server.status == "ACTIVE"
        assert server.project_id == scene.service_project_id  # Octavia's, not the tenant's
        assert server.image.id == out["amp_image_id"]  # Octavia found it by tag and owner:
        image = scene.admin.image.get_image(server.image.id)
        assert (out["amp_image_tag"] in image.tags, image.owner) == (True, out["amp_image_owner_id"])
        assert server.flavor.original_name == flavor_name
        assert server.key_name == out["amp_ssh_key_name"]  # the stack's key, visible to Octavia's user
        assert len(amp.mgmt_ports) == 1, amp.mgmt_ports
        port = amp.mgmt_ports[0]
        assert port.security_group_ids == [out["amphora_secgroup_id"]]
        assert port.binding_vif_type == "ovs"  # bound by the devcloud's driver on the amphora's host
        address = ipaddress.ip_address(port.fixed_ips[0]["ip_address"])
        assert ALLOCATION_POOL[0] <= address <= ALLOCATION_POOL[1]
        assert str(address) == amp.lb_network_ip
    return amphorae


def test_up_and_apply_the_stack_to_octavia(scene):
    scene.up_and_apply()
    stack_conf = (dc.ETC / "octavia/stack.conf").read_text()
    assert stack_conf == scene.out["octavia_conf"]  # taken verbatim
    assert dc.controller_host()["address"] == scene.out["health_manager_ips"]["devcloud"]


def test_an_active_standby_loadbalancer_becomes_active_on_two_hosts(scene):
    lb = create_loadbalancer(scene, "ACTIVE_STANDBY")
    amphorae = check_amphorae(scene, lb, 2)
    assert sorted(amp.role for amp in amphorae) == ["BACKUP", "MASTER"]
    hosts = {amp.server.compute_host for amp in amphorae}
    assert hosts == set(dc.COMPUTE_HOSTS), hosts  # hard anti-affinity: one per compute host
    server_ids = {amp.server.id for amp in amphorae}
    groups = [g for g in scene.admin.compute.server_groups(all_projects=True) if server_ids <= set(g.member_ids)]
    assert len(groups) == 1 and groups[0].policy == "anti-affinity", groups


def test_listener_pool_and_member_become_active(scene):
    lbs, lb = scene.tenant.conn.load_balancer, scene.loadbalancers["ACTIVE_STANDBY"]
    listener = lbs.create_listener(name="http", loadbalancer_id=lb.id, protocol="HTTP", protocol_port=80)
    wait_active(lambda: lbs.get_listener(listener.id), "listener")
    pool = lbs.create_pool(name="web", listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    wait_active(lambda: lbs.get_pool(pool.id), "pool")
    member = lbs.create_member(pool.id, address="10.77.0.20", protocol_port=8080, subnet_id=scene.tenant.subnet.id)
    wait_active(lambda: lbs.get_member(member.id, pool.id), "member")
    wait_active(lambda: lbs.get_load_balancer(lb.id), "load balancer")


def test_a_single_loadbalancer_has_one_amphora(scene):
    lb = create_loadbalancer(scene, "SINGLE")
    check_amphorae(scene, lb, 1)


def test_the_stack_tenant_quota_limits_the_tenant(scene):
    """[quotas] default_load_balancer_quota from octavia_tenant_quotas: Octavia refuses a third."""
    assert len(list(scene.tenant.conn.load_balancer.load_balancers())) == TENANT_LOADBALANCERS
    with pytest.raises(openstack.exceptions.HttpException) as refused:
        scene.tenant.conn.load_balancer.create_load_balancer(vip_subnet_id=scene.tenant.subnet.id,
                                                            flavor_id=scene.out["octavia_flavor_ids"]["SINGLE"])
    assert refused.value.status_code == 403 and "quota" in str(refused.value).lower(), refused.value


def test_a_new_image_version_boots_on_failover(scene):
    work_dir = Path(scene.stack.workspace.work_dir)
    make_test_image(work_dir / ".state" / "amphora-next.qcow2", size="80M")
    old_image = scene.out["amp_image_id"]
    write_config(scene.stack, {"amp_images": [{"version": "test", "source": ".state/amphora-test.qcow2"},
                                              {"version": "next", "source": ".state/amphora-next.qcow2"}]})
    scene.up_and_apply()
    assert scene.out["amp_image_id"] != old_image
    admin_lbs, lb = scene.admin.load_balancer, scene.loadbalancers["SINGLE"]
    before = {amp.id for amp in amphora_servers(scene.admin, lb.id, scene.out["mgmt_network_id"])}
    admin_lbs.failover_load_balancer(lb.id)
    time.sleep(1)  # the API marks it PENDING_UPDATE before answering; the worker then replaces the amphora
    wait_active(lambda: admin_lbs.get_load_balancer(lb.id), "failed-over load balancer")
    [amp] = check_amphorae(scene, lb, 1)  # booted from the new image (check_amphorae compares)
    assert amp.id not in before


def test_adding_a_controller_extends_controller_ip_port_list(scene):
    before = scene.out["controller_ip_port_list"]
    write_config(scene.stack, {"health_managers": [{"host": "devcloud", "ip": "172.29.232.10"},
                                                   {"host": "ctl2", "ip": "172.29.232.11"}]})
    scene.up_and_apply()
    assert before == "172.29.232.10:5555"
    assert scene.out["controller_ip_port_list"] == "172.29.232.10:5555,172.29.232.11:5555"
    applied = configparser.ConfigParser(interpolation=None)
    applied.read(dc.ETC / "octavia/stack.conf")
    assert applied["health_manager"]["controller_ip_port_list"] == scene.out["controller_ip_port_list"]


# --- heartbeats: Octavia's amphora-side sender, from the amphora's own address -------------------


HEARTBEAT_SENDER = """\
import json, sys
from oslo_config import cfg
from octavia.amphorae.backends.health_daemon import health_sender
from octavia.common import config  # noqa: F401  (registers the options)

settings = json.loads(sys.argv[1])
cfg.CONF([], project="octavia")
for name, value in settings["health_manager"].items():
    cfg.CONF.set_override(name, value, group="health_manager")
health_sender.UDPStatusSender().dosend(settings["message"])
"""


def health_record(amphora_id: str) -> str | None:
    """The amphora's row in Octavia's amphora_health table (its last heartbeat), if any."""
    result = subprocess.run(
        [dc.find_program("mariadb"), f"--defaults-file={dc.ETC / 'mariadb/my.cnf'}", "-uroot", "-N", "-e",
         f"SELECT last_update FROM octavia.amphora_health WHERE amphora_id = '{amphora_id}'"],
        capture_output=True, text=True, check=True)
    return result.stdout.strip() or None


def heartbeat(scene: Scene, amp, key: str) -> dict:
    """Octavia's amphora-side settings from the stack's octavia.conf, and a version-2 heartbeat
    reporting the load balancer's listener open and its member up."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(scene.out["octavia_conf"])
    lbs, lb = scene.admin.load_balancer, scene.loadbalancers["ACTIVE_STANDBY"]
    [listener] = list(lbs.listeners(loadbalancer_id=lb.id))
    [pool] = list(lbs.pools(loadbalancer_id=lb.id))
    [member] = list(lbs.members(pool.id))
    stats = {"tx": 0, "rx": 0, "conns": 0, "totconns": 0, "ereq": 0}
    message = {
        "id": amp.id, "seq": 1, "ver": 2,
        "listeners": {listener.id: {"status": "OPEN", "stats": stats}},
        "pools": {f"{pool.id}:{listener.id}": {"status": "UP", "members": {member.id: "UP"}}},
    }
    targets = conf["health_manager"]["controller_ip_port_list"].split(",")
    return {"health_manager": {"controller_ip_port_list": targets, "heartbeat_key": key}, "message": message}


def send_heartbeat(namespace: AmphoraNamespace, settings: dict) -> None:
    result = namespace.run(str(dc.venv_dir() / "bin/python"), "-c", HEARTBEAT_SENDER, json.dumps(settings))
    assert result.returncode == 0, result.stderr


def wait_for(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.fixture
def amphora_namespace(scene):
    amp = amphora_servers(scene.admin, scene.loadbalancers["ACTIVE_STANDBY"].id, scene.out["mgmt_network_id"])[0]
    namespace = AmphoraNamespace(amp.lb_network_ip, MGMT_CIDR.prefixlen)
    yield amp, namespace
    namespace.delete()


def test_a_heartbeat_signed_with_another_key_is_rejected(scene, amphora_namespace):
    amp, namespace = amphora_namespace
    log = dc.LOGS / "octavia-health-manager.log"
    seen = log.stat().st_size
    send_heartbeat(namespace, heartbeat(scene, amp, key="not-the-stack-key"))
    rejected = f"exception processing a heartbeat message from ('{amp.lb_network_ip}',"  # (address, port)
    assert wait_for(lambda: rejected in log.read_text(errors="replace")[seen:]), "no rejection logged"
    assert health_record(amp.id) is None


def dropped_by_the_devcloud_guard() -> int:
    """Packets the devcloud's firewall dropped for the health manager's address (devcloud.py)."""
    listing = subprocess.run(["nft", "-j", "list", "table", "inet", dc.HM_FIREWALL_TABLE],
                             capture_output=True, text=True, check=True).stdout
    return sum(expr["counter"]["packets"] for item in json.loads(listing)["nftables"]
               for expr in item.get("rule", {}).get("expr", []) if "counter" in expr)


def test_the_health_manager_is_unreachable_from_off_the_management_bridge(scene):
    """A heartbeat with the right key, routed in over another interface, never reaches the health
    manager: the devcloud's one non-loopback listener is reachable from this machine only."""
    tag = uuid.uuid4().hex[:6]
    name, host_end, outside_end = f"out-{tag}", f"ob{tag}h", f"ob{tag}o"
    setup = [["netns", "add", name], ["link", "add", host_end, "type", "veth", "peer", "name", outside_end],
             ["addr", "add", "10.253.0.1/30", "dev", host_end], ["link", "set", host_end, "up"],
             ["link", "set", outside_end, "netns", name],
             ["-n", name, "addr", "add", "10.253.0.2/30", "dev", outside_end], ["-n", name, "link", "set", outside_end, "up"],
             ["-n", name, "route", "add", str(MGMT_CIDR), "via", "10.253.0.1"]]
    try:
        for args in setup:
            subprocess.run(["ip", *args], check=True, capture_output=True)
        amp = amphora_servers(scene.admin, scene.loadbalancers["ACTIVE_STANDBY"].id, scene.out["mgmt_network_id"])[0]
        dropped = dropped_by_the_devcloud_guard()
        outside = subprocess.run(["ip", "netns", "exec", name, str(dc.venv_dir() / "bin/python"), "-c", HEARTBEAT_SENDER,
                                  json.dumps(heartbeat(scene, amp, key=scene.out["heartbeat_key"]))],
                                 capture_output=True, text=True, timeout=60)
        assert outside.returncode == 0, outside.stderr
        assert wait_for(lambda: dropped_by_the_devcloud_guard() > dropped), "the heartbeat was not dropped"
        assert health_record(amp.id) is None
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_heartbeat_signed_with_the_stack_key_is_accepted(scene, amphora_namespace):
    amp, namespace = amphora_namespace
    lb_id = scene.loadbalancers["ACTIVE_STANDBY"].id
    assert scene.tenant.conn.load_balancer.get_load_balancer(lb_id).operating_status != "ONLINE"
    send_heartbeat(namespace, heartbeat(scene, amp, key=scene.out["heartbeat_key"]))
    assert wait_for(lambda: health_record(amp.id) is not None), "the health manager recorded no heartbeat"
    # The tenant sees what the heartbeat reported.
    assert wait_for(lambda: scene.tenant.conn.load_balancer.get_load_balancer(lb_id).operating_status == "ONLINE")


def test_amphora_logs_reach_the_controller_with_log_offload(scene, amphora_namespace, tmp_path):
    """The local stack has log_offload on: Octavia's own template turns the stack's octavia.conf
    into the amphora's rsyslog configuration, and rsyslogd in the amphora's namespace delivers an
    administrative and a tenant log line to this controller's ports, through its firewall rules."""
    amp, namespace = amphora_namespace
    received = forward_amphora_logs(namespace, scene.out["octavia_conf"], dc.controller_host()["address"], tmp_path)
    assert "admin-probe" in received["admin"] and "tenant-probe" in received["tenant"], received


# --- the end -------------------------------------------------------------------------------------


def test_deleting_the_loadbalancers_and_the_stack_leaves_nothing(scene):
    server_ids = [amp.server.id for lb in scene.loadbalancers.values()
                  for amp in amphora_servers(scene.admin, lb.id, scene.out["mgmt_network_id"])]
    for lb in scene.loadbalancers.values():
        scene.tenant.conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
    for lb in scene.loadbalancers.values():
        wait_gone(lambda lb=lb: scene.tenant.conn.load_balancer.find_load_balancer(lb.id), f"load balancer {lb.id}")
    for server_id in server_ids:
        wait_gone(lambda s=server_id: scene.admin.compute.find_server(s, all_projects=True), f"amphora server {server_id}")
    assert list(scene.admin.network.ports(network_id=scene.out["mgmt_network_id"], device_owner="compute:nova")) == []
    result = engine(scene.stack.destroy)
    assert result.summary.result == "succeeded"
    assert leftovers(scene.admin, f"{scene.stack.name}-", recorded_ids(scene.out)) == {}
