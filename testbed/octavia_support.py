"""Octavia's controller on the devcloud, driven as operators and tenants drive it.

- `apply_stack`: a stack's outputs become the devcloud's Octavia configuration
  (`devcloud.py apply-stack`, what `make devcloud-octavia` runs);
- `Tenant`: a project of its own with a member user, a VIP network, and openstacksdk as that user;
- `wait_active`: a load-balancer object until ACTIVE, with the worker's log lines for it on ERROR;
- `amphora_servers`: the amphorae of a load balancer with their Nova servers and ports;
- `AmphoraNamespace`: a network namespace holding an amphora's management address, on the
  devcloud's health-manager bridge;
- `forward_amphora_logs`: the amphora's log offload, configured by Octavia's own template, run
  by rsyslogd in that namespace.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import openstack.connection

from devcloud import devcloud as dc
from testbed.devcloud_support import ROOT, pulumi_cli

ACTIVE_WITHIN = 180  # seconds; the worker needs ~15 s per load balancer here
TENANT_PASSWORD = "devcloud-tenant"
TENANT_ROLES = ("member", "load-balancer_member")  # new and legacy Octavia policy roles


def apply_stack(stack, host: str | None = None) -> str:
    """Configure the devcloud's Octavia from the stack's outputs, as an operator does; its output."""
    outputs = pulumi_cli(stack, "stack", "output", "--json", "--show-secrets").stdout
    args = [sys.executable, str(ROOT / "devcloud" / "devcloud.py"), "apply-stack", "-", *(["--host", host] if host else [])]
    result = subprocess.run(args, input=outputs, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"apply-stack failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def worker_log_lines(*ids: str) -> str:
    lines = (dc.LOGS / "octavia-worker.log").read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if any(i in line for i in ids)) or "(no worker log line names it)"


def wait_active(get, what: str, timeout: float = ACTIVE_WITHIN):
    """Poll get() until provisioning_status is ACTIVE; fail with the worker's log lines on ERROR."""
    deadline = time.monotonic() + timeout
    while True:
        obj = get()
        if obj.provisioning_status == "ACTIVE":
            return obj
        if obj.provisioning_status == "ERROR" or time.monotonic() > deadline:
            raise AssertionError(f"{what} {obj.id} is {obj.provisioning_status} after {timeout:.0f}s or less; "
                                 f"worker log lines for it:\n{worker_log_lines(obj.id)}")
        time.sleep(1)


def wait_gone(find, what: str, timeout: float = ACTIVE_WITHIN) -> None:
    deadline = time.monotonic() + timeout
    while find() is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} still there after {timeout:.0f}s")
        time.sleep(1)


class Tenant:
    """A tenant project with a member user and a VIP network of its own; `conn` acts as that user."""

    def __init__(self, admin: openstack.connection.Connection, auth_url: str):
        self.admin, self.name = admin, f"lb-tenant-{uuid.uuid4().hex[:6]}"
        self.project = admin.identity.create_project(name=self.name, domain_id="default")
        self.user = admin.identity.create_user(name=self.name, password=TENANT_PASSWORD, domain_id="default",
                                               default_project_id=self.project.id)
        for role_name in TENANT_ROLES:
            role = admin.identity.find_role(role_name) or admin.identity.create_role(name=role_name)
            admin.identity.assign_project_role_to_user(self.project, self.user, role)
        self.conn = openstack.connection.Connection(
            auth_url=auth_url, username=self.name, password=TENANT_PASSWORD, project_name=self.name,
            user_domain_id="default", project_domain_id="default", region_name=dc.REGION,
            interface="public", identity_api_version="3",
        )
        self.network = self.conn.network.create_network(name=f"{self.name}-vip")
        self.subnet = self.conn.network.create_subnet(
            name=f"{self.name}-vip", network_id=self.network.id, ip_version=4, cidr="10.77.0.0/24")

    def delete(self) -> None:
        for lb in self.conn.load_balancer.load_balancers():
            self.conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
            wait_gone(lambda lb=lb: self.conn.load_balancer.find_load_balancer(lb.id), f"load balancer {lb.id}")
        self.conn.network.delete_network(self.network.id)  # VIP ports are gone with their load balancers
        self.conn.close()
        self.admin.identity.delete_user(self.user)
        self.admin.identity.delete_project(self.project)


@dataclass(frozen=True)
class Amphora:
    id: str
    role: str
    lb_network_ip: str
    server: object  # openstack.compute.v2.server.Server, seen by the admin
    mgmt_ports: list  # the server's ports on the management network


def amphora_servers(admin, loadbalancer_id: str, mgmt_network_id: str) -> list[Amphora]:
    found = []
    for amp in admin.load_balancer.amphorae(loadbalancer_id=loadbalancer_id):
        server = admin.compute.get_server(amp.compute_id)
        ports = list(admin.network.ports(device_id=server.id, network_id=mgmt_network_id))
        found.append(Amphora(amp.id, amp.role, amp.lb_network_ip, server, ports))
    return found


class AmphoraNamespace:
    """A network namespace holding an amphora's management address, cabled to the devcloud's
    health-manager bridge by a veth pair: traffic stays inside this machine."""

    def __init__(self, address: str, prefixlen: int):
        tag = uuid.uuid4().hex[:6]
        self.name, host_end, amp_end = f"amp-{tag}", f"hb{tag}h", f"hb{tag}a"
        commands = [
            ["netns", "add", self.name],
            ["link", "add", host_end, "type", "veth", "peer", "name", amp_end],
            ["link", "set", host_end, "master", dc.HM_INTERFACE, "up"],
            ["link", "set", amp_end, "netns", self.name],
            ["-n", self.name, "addr", "add", f"{address}/{prefixlen}", "dev", amp_end,
             *(["nodad"] if ":" in address else [])],
            ["-n", self.name, "link", "set", amp_end, "up"],
            ["-n", self.name, "link", "set", "lo", "up"],
        ]
        for args in commands:
            subprocess.run(["ip", *args], check=True, capture_output=True)
        self.host_end = host_end

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *args], capture_output=True, text=True, timeout=60)

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


LOGGING_RENDERER = """\
import sys
from oslo_config import cfg
from octavia.common import config  # noqa: F401  (registers the options)
from octavia.common.jinja.logging.logging_jinja_cfg import LoggingJinjaTemplater

cfg.CONF(["--config-file", sys.argv[1]], project="octavia")
print(LoggingJinjaTemplater().build_logging_config())
"""
# Octavia's default facilities: administrative logs on local1, tenant traffic logs on local0.info.
PROBES = {"admin": ("local1.info", 10514), "tenant": ("local0.info", 20514)}


def forward_amphora_logs(namespace: AmphoraNamespace, octavia_conf: str, receiver: str, tmp: Path) -> dict[str, str]:
    """What reaches receiver when an amphora logs one admin and one tenant line: the amphora's
    rsyslog configuration rendered by Octavia's own template from octavia_conf, run by rsyslogd
    (Debian's) in the amphora's namespace. {"admin": datagram on 10514, "tenant": on 20514}."""
    if not shutil.which("rsyslogd"):
        with dc.no_service_starts():
            subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "rsyslog"], check=True,
                           capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    (tmp / "octavia.conf").write_text(octavia_conf)
    rendered = subprocess.run([str(dc.venv_dir() / "bin/python"), "-c", LOGGING_RENDERER, str(tmp / "octavia.conf")],
                              capture_output=True, text=True, check=True).stdout
    (tmp / "rsyslog.conf").write_text(
        f'global(workDirectory="{tmp}")\nmodule(load="imuxsock" SysSock.Use="off")\n'
        f'input(type="imuxsock" Socket="{tmp}/log")\n{rendered}\n')
    family = socket.AF_INET6 if ":" in receiver else socket.AF_INET
    listeners = {}
    for kind, (_, port) in PROBES.items():
        listeners[kind] = socket.socket(family, socket.SOCK_DGRAM)
        listeners[kind].bind((receiver, port))
        listeners[kind].settimeout(15)
    rsyslogd = subprocess.Popen(["ip", "netns", "exec", namespace.name, "rsyslogd", "-n", "-f", str(tmp / "rsyslog.conf"),
                                 "-i", str(tmp / "rsyslogd.pid")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (tmp / "log").exists() and time.monotonic() < deadline:  # rsyslogd opens its socket
            time.sleep(0.2)
        for kind, (priority, _) in PROBES.items():
            namespace.run("logger", "-u", str(tmp / "log"), "-p", priority, f"{kind}-probe")
        received = {}
        for kind, listener in listeners.items():
            try:
                received[kind] = listener.recv(4096).decode(errors="replace")
            except socket.timeout:
                received[kind] = ""
        return received
    finally:
        rsyslogd.terminate()
        rsyslogd.wait(timeout=10)
        for listener in listeners.values():
            listener.close()
