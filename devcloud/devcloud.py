#!/usr/bin/env python3
"""devcloud: a local OpenStack control plane on 127.0.0.1, with Octavia's controller.

    python3 devcloud/devcloud.py start|stop|status|reset
    python3 devcloud/devcloud.py apply-stack OUTPUTS.json|-   # a stack's outputs -> Octavia

Runs MariaDB and RabbitMQ (Debian packages), the Keystone, Neutron, Nova, Placement, Glance and
Octavia APIs (pinned 2026.2 releases, each under uwsgi), Nova's conductor, scheduler and two
computes with the fake virt driver, and Octavia's worker, health manager and housekeeping, from a
virtualenv of their own. Everything the devcloud
writes lives in <project>/.devcloud/, except that virtualenv, which is cached per machine in
~/.cache/octavia-infra/ under the hash of devcloud/requirements.lock. Stdlib only, so that
any Python 3 runs it. See devcloud/README.md.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import fcntl
import getpass
import grp
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT / ".devcloud"
LOGS, RUN, ETC = DATA / "logs", DATA / "run", DATA / "etc"
MYSQL_DIR, GLANCE_DIR = DATA / "mysql", DATA / "glance"
MYSQL_SOCKET = RUN / "mysqld.sock"
INITIALISED = DATA / "initialised"  # written once databases and the catalogue are complete
LOCK = DATA / "devcloud.lock"  # held by start, stop and reset: one of them at a time
CLOUDS_YAML = DATA / "clouds.yaml"
REQUIREMENTS_LOCK = HERE / "requirements.lock"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "octavia-infra"

HOST, REGION = "127.0.0.1", "RegionOne"
KEYSTONE_URL = f"http://{HOST}:5000"
# Dev-only credentials: the devcloud listens on loopback only.
ADMIN_PASSWORD = "devcloud-admin"
SERVICE_PASSWORD = "devcloud-service"
DB_USER, DB_PASSWORD = "openstack", "devcloud-db"
# RabbitMQ's built-in guest user may connect from loopback only, which is all the devcloud needs.
RABBIT_PORT, RABBIT_DIST_PORT, EPMD_PORT = 5672, 25672, 4369
TRANSPORT_URL = f"rabbit://guest:guest@{HOST}:{RABBIT_PORT}/"
RABBIT_DIR = DATA / "rabbitmq"
# Two compute hosts, so that a hard anti-affinity pair of amphorae can be placed, each in a Nova
# availability zone of its own (a host aggregate per zone), so that Octavia availability zones
# have compute zones to name. Servers booted without a zone may still land on either.
COMPUTE_HOSTS = ("devcloud-compute-1", "devcloud-compute-2")
COMPUTE_ZONES = {"devcloud-compute-1": "az1", "devcloud-compute-2": "az2"}
# The devcloud's side of a stack's management network: a bridge holding this host's
# health-manager address (apply-stack plugs it), reachable from this machine's own namespaces only.
HM_INTERFACE = "o-hm0"
HM_HOST_FILE = ETC / "octavia/host.json"  # apply-stack's choice of host, address and MAC
HM_FIREWALL_TABLE = "devcloud_health_manager"
INIT_VERSION = "2"  # databases and catalogue layout; an older INITIALISED needs a reset

# Debian packages, keyed by a program each provides. The -core packages bring the server and
# client without an init script, so installing them starts no system-wide MariaDB.
APT_PACKAGES = {
    "mariadbd": "mariadb-server-core",
    "mariadb": "mariadb-client-core",
    "qemu-img": "qemu-utils",
    "cc": "gcc",  # uwsgi is compiled from source by pip
    "rabbitmq-server": "rabbitmq-server",
    "ip": "iproute2",  # apply-stack plugs the health-manager bridge
    "nft": "nftables",  # ... and keeps its address reachable from this machine only
}
START_TIMEOUT = 420  # seconds for all APIs to answer; generous, the CI machine may be busy
DATABASES = ["keystone", "neutron", "nova_api", "nova", "nova_cell0", "glance", "octavia", "placement"]

# Networks the devcloud's Neutron accepts. Flat networks on any physical network name; VLAN
# ranges name the physical networks that carry VLANs (the stacks use `lbaas`). The ranges bound
# what Neutron allocates by itself: admins may still pick any id 1-4094 for a provider network
# on those physical networks (stacks/Pulumi.dev.yaml uses 2101, prod 3101).
FLAT_NETWORKS = "*"
VLAN_RANGES = "lbaas:100:199,physnet1:1000:1999"
VNI_RANGES = "1:1000"


@dataclass(frozen=True)
class Api:
    name: str  # service name: also its keystone user, log and run file names
    port: int
    module: str  # WSGI module that uwsgi loads
    service_type: str  # type in the keystone catalogue
    path: str  # path of the catalogue endpoint
    probe: str  # an authenticated GET that proves the API works
    env: tuple = ()  # (variable, path under ETC) pairs telling the service where its config is
    configs: tuple = ()  # --config-file arguments for the WSGI module's sys.argv, under ETC
    processes: int = 1  # uwsgi worker processes


# Octavia's files, in order: the devcloud's own settings (database, transport, keystone), the
# stack's rendered octavia.conf taken verbatim (apply-stack writes it), then what the devcloud
# must decide: the drivers (no amphora VM can boot on the fake computes, so the amphora agent
# calls are the only thing faked) and this host's health-manager address.
OCTAVIA_CONFIGS = ("octavia/octavia.conf", "octavia/stack.conf", "octavia/devcloud.conf")


@dataclass(frozen=True)
class Daemon:
    """A service without an API of its own: alive while its process runs, and for Nova's, while
    Nova lists it as up."""
    name: str  # run and log file names
    program: str  # in the venv's bin/
    configs: tuple  # --config-file arguments, under ETC; missing optional files are left out
    nova_service: tuple = ()  # (binary, host) as Nova's os-services lists it


APIS = [
    Api("keystone", 5000, "keystone.wsgi.api", "identity", "/v3", "/v3/projects",
        env=(("OS_KEYSTONE_CONFIG_FILES", "keystone/keystone.conf"),)),
    Api("neutron", 9696, "neutron_wsgi", "network", "", "/v2.0/networks",  # devcloud/neutron_wsgi.py
        configs=("neutron/neutron.conf",), processes=2),
    Api("nova", 8774, "nova.wsgi.osapi_compute", "compute", "/v2.1", "/v2.1/flavors",
        env=(("OS_NOVA_CONFIG_DIR", "nova"),)),
    Api("glance", 9292, "glance.wsgi.api", "image", "", "/v2/images",
        env=(("OS_GLANCE_CONFIG_DIR", "glance"),)),
    Api("octavia", 9876, "octavia.wsgi.api", "load-balancer", "", "/v2/lbaas/flavors", configs=OCTAVIA_CONFIGS),
    Api("placement", 8778, "placement.wsgi.api", "placement", "", "/resource_providers",
        env=(("OS_PLACEMENT_CONFIG_DIR", "placement"),)),
]
API_BY_NAME = {api.name: api for api in APIS}

DAEMONS = [
    Daemon("nova-conductor", "nova-conductor", ("nova/nova.conf",), ("nova-conductor", "devcloud")),
    Daemon("nova-scheduler", "nova-scheduler", ("nova/nova.conf",), ("nova-scheduler", "devcloud")),
    *(Daemon(f"nova-compute-{n}", "nova-compute", ("nova/nova.conf", f"nova/{host}.conf"), ("nova-compute", host))
      for n, host in enumerate(COMPUTE_HOSTS, 1)),
    Daemon("octavia-worker", "octavia-worker", OCTAVIA_CONFIGS),
    Daemon("octavia-health-manager", "octavia-health-manager", OCTAVIA_CONFIGS),
    Daemon("octavia-housekeeping", "octavia-housekeeping", OCTAVIA_CONFIGS),
]
OCTAVIA_SERVICES = ["octavia", *(d.name for d in DAEMONS if d.name.startswith("octavia-"))]
SERVICE_NAMES = ["mariadb", "rabbitmq", *API_BY_NAME, *(d.name for d in DAEMONS)]  # status's order


class DevcloudError(Exception):
    """A failure to report to the user without a traceback."""


# ---------------------------------------------------------------------------------------------
# Configuration: every generated file in one table.


def db_url(name: str) -> str:
    return f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@localhost/{name}?unix_socket={MYSQL_SOCKET}&charset=utf8mb4"


def service_auth(user: str) -> dict:
    """Password auth of a service user in the service project (keystonemiddleware, clients)."""
    return {
        "auth_url": KEYSTONE_URL, "auth_type": "password", "username": user,
        "password": SERVICE_PASSWORD, "project_name": "service",
        "user_domain_name": "Default", "project_domain_name": "Default", "region_name": REGION,
    }


def authtoken(user: str) -> dict:
    return {"www_authenticate_uri": KEYSTONE_URL, **service_auth(user)}


def config_files(venv: Path) -> dict:
    """{path under ETC: {section: {option: value}}} for every service."""
    common = {"debug": "false", "transport_url": TRANSPORT_URL}
    lock_path = {"lock_path": str(RUN / "lock")}
    # Keystone credentials of a service's own user, for its calls to other services.
    client = lambda user: {**service_auth(user), "valid_interfaces": "public"}  # noqa: E731
    return {
        "mariadb/my.cnf": {"mysqld": {
            "user": getpass.getuser(), "datadir": str(MYSQL_DIR), "socket": str(MYSQL_SOCKET),
            "pid-file": str(RUN / "mariadbd.pid"), "log-error": str(LOGS / "mariadb.log"),
            "skip-networking": "1",  # unix socket only: no TCP port to collide with
            "character-set-server": "utf8mb4", "max_connections": "300",
            # Small and fast rather than durable: this is throwaway dev data.
            "innodb_buffer_pool_size": "32M", "performance_schema": "OFF",
            "innodb_flush_log_at_trx_commit": "0", "innodb_doublewrite": "0",
            "skip-name-resolve": "1",
        }, "client": {"socket": str(MYSQL_SOCKET)}},
        "keystone/keystone.conf": {
            "DEFAULT": {"debug": "false"},
            "database": {"connection": db_url("keystone")},
            "token": {"provider": "fernet"},
            # Cheap password hashes (bcrypt's minimum cost): every service authenticates often and
            # the default cost takes seconds of CPU per login on a busy two-core machine.
            "identity": {"password_hash_rounds": "4"},
            "cache": {"enabled": "true", "backend": "dogpile.cache.memory"},
            "fernet_tokens": {"key_repository": str(ETC / "keystone/fernet-keys")},
            "credential": {"key_repository": str(ETC / "keystone/credential-keys")},
            "oslo_concurrency": lock_path,
        },
        "neutron/neutron.conf": {
            "DEFAULT": {
                # No agents to talk to: RPC casts go nowhere. The router plugin serves the API
                # (IPv6 management networks get a router for their advertisements); no L3 agent.
                "debug": "false", "transport_url": "fake:/",
                "core_plugin": "ml2", "service_plugins": "router", "auth_strategy": "keystone",
                "api_paste_config": str(ETC / "neutron/api-paste.ini"), "state_path": str(DATA / "neutron"),
                # No nova to notify about port changes.
                "notify_nova_on_port_status_changes": "false", "notify_nova_on_port_data_changes": "false",
            },
            "database": {"connection": db_url("neutron")},
            "keystone_authtoken": authtoken("neutron"),
            "oslo_concurrency": lock_path,
            "ml2": {
                "type_drivers": "flat,vlan,vxlan,geneve", "tenant_network_types": "vxlan",
                # devcloud/devcloud_ml2.py binds every port on any host (the in-tree drivers want a
                # live agent there): Nova refuses ports whose binding failed.
                "mechanism_drivers": "devcloud_bind_all", "extension_drivers": "port_security",
            },
            "ml2_type_flat": {"flat_networks": FLAT_NETWORKS},
            "ml2_type_vlan": {"network_vlan_ranges": VLAN_RANGES},
            "ml2_type_vxlan": {"vni_ranges": VNI_RANGES},
            "ml2_type_geneve": {"vni_ranges": VNI_RANGES, "max_header_size": "38"},
            "securitygroup": {"enable_security_group": "true", "firewall_driver": "noop"},
        },
        "nova/nova.conf": {
            "DEFAULT": {
                **common, "state_path": str(DATA / "nova"), "my_ip": HOST, "host": "devcloud",
                # Servers "run" in Nova's fake virt driver: real scheduling, placement and port
                # binding, no VM. Its hosts offer 1000 vCPUs, 800 GB RAM and 600 TB of disk. This
                # variant keeps a node identity in state_path, as real drivers do: a compute
                # refuses to start again without one.
                "compute_driver": "fake.FakeDriverWithoutFakeNodes",
                # Nothing plugs VIFs, so Neutron never reports them plugged.
                "vif_plugging_is_fatal": "false", "vif_plugging_timeout": "0",
            },
            "api": {"auth_strategy": "keystone"},
            "conductor": {"workers": "1"},
            "scheduler": {"workers": "1"},
            "placement": client("nova"),
            "neutron": client("nova"),
            "wsgi": {"api_paste_config": str(ETC / "nova/api-paste.ini")},
            "api_database": {"connection": db_url("nova_api")},
            "database": {"connection": db_url("nova")},  # the cell1 database
            "keystone_authtoken": authtoken("nova"),
            # Nova checks project ids (flavor access, quota sets) against keystone with the caller's token.
            "keystone": {"region_name": REGION, "valid_interfaces": "public"},
            "oslo_concurrency": lock_path,
            "oslo_messaging_notifications": {"driver": "noop"},
        },
        **{f"nova/{host}.conf": {"DEFAULT": {"host": host, "state_path": str(DATA / host)}}
           for host in COMPUTE_HOSTS},
        "placement/placement.conf": {
            "DEFAULT": {"debug": "false"},
            "api": {"auth_strategy": "keystone"},
            "placement_database": {"connection": db_url("placement")},
            "keystone_authtoken": authtoken("placement"),
        },
        "glance/glance-api.conf": {
            "DEFAULT": {
                "debug": "false", "enabled_backends": "local:file",
                "enabled_import_methods": "[glance-direct,web-download]",
                "worker_self_reference_url": f"http://{HOST}:9292",
            },
            "database": {"connection": db_url("glance")},
            "keystone_authtoken": authtoken("glance"),
            "paste_deploy": {"flavor": "keystone"},
            "glance_store": {"default_backend": "local"},
            "local": {"filesystem_store_datadir": str(GLANCE_DIR / "images")},
            "os_glance_staging_store": {"filesystem_store_datadir": str(GLANCE_DIR / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(GLANCE_DIR / "tasks")},
            # web-download from this machine's loopback only (the devcloud reaches no other host),
            # on any port: e.g. `python3 -m http.server -b 127.0.0.1 8000` next to a qcow2 file.
            # Glance otherwise refuses loopback URLs and ports other than 80 and 443.
            "import_filtering_opts": {"allowed_hosts": "[127.0.0.1,localhost]", "allowed_ports": "[]"},
            # Reject uploads whose content is not the declared disk_format (the default, made explicit).
            "image_format": {"require_image_format_match": "true"},
            "oslo_concurrency": lock_path,
            "oslo_messaging_notifications": {"driver": "noop"},
        },
        "octavia/octavia.conf": {
            "DEFAULT": common,
            "api_settings": {
                "auth_strategy": "keystone", "default_provider_driver": "amphora",
                "enabled_provider_drivers": "amphora:The Octavia Amphora driver.",
            },
            "database": {"connection": db_url("octavia")},
            "keystone_authtoken": authtoken("octavia"),
            # The amphora provider checks flavor profiles against nova (compute_flavor) and
            # glance (amp_image_tag) with these credentials.
            "service_auth": service_auth("octavia"),
            "nova": {"region_name": REGION, "endpoint_type": "publicURL"},
            "glance": {"region_name": REGION, "endpoint_type": "publicURL"},
            "neutron": {"region_name": REGION, "valid_interfaces": "public"},
            "oslo_concurrency": lock_path,
            "oslo_messaging_notifications": {"driver": "noop"},
        },
        "octavia/devcloud.conf": {
            "controller_worker": {
                "compute_driver": "compute_nova_driver",
                "network_driver": "allowed_address_pairs_driver",
                "amphora_driver": "amphora_noop_driver",
                # Fake servers are ACTIVE at once; the default 10 s wait would be most of a create.
                "amp_active_wait_sec": "1",
            },
            "health_manager": {"bind_ip": controller_host().get("address", HOST)},
            "oslo_messaging_notifications": {"driver": "noop"},
        },
    }


# Paste pipelines shipped in the packages' data files (installed under <venv>/etc).
PASTE_FILES = {
    "neutron/api-paste.ini": "etc/neutron/api-paste.ini",
    "nova/api-paste.ini": "etc/nova/api-paste.ini",
    "glance/glance-api-paste.ini": "etc/glance/glance-api-paste.ini",
}


def write_configs(venv: Path) -> None:
    for rel, sections in config_files(venv).items():
        parser = configparser.ConfigParser(interpolation=None, default_section="__none__")
        parser.optionxform = str  # keep option case
        parser.read_dict(sections)
        path = ETC / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            out.write("# Generated by devcloud/devcloud.py on each start; edit the script, not this file.\n")
            parser.write(out)
    for rel, source in PASTE_FILES.items():
        shutil.copyfile(venv / source, ETC / rel)
    write_clouds_yaml()
    register_ml2_driver(venv)


def controller_host() -> dict:
    """The health-manager host apply-stack chose ({} until a stack is applied)."""
    try:
        return json.loads(HM_HOST_FILE.read_text())
    except (OSError, ValueError):
        return {}


def register_ml2_driver(venv: Path) -> None:
    """Make devcloud/devcloud_ml2.py loadable by name: ML2 finds mechanism drivers by entry point
    only, so a distribution of one entry point is written into the venv (the module itself is on
    Neutron's path through uwsgi's --pythonpath)."""
    site = Path(next((venv / "lib").glob("python3*/site-packages")))
    dist = site / "devcloud_ml2-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: devcloud-ml2\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[neutron.ml2.mechanism_drivers]\ndevcloud_bind_all = devcloud_ml2:BindAllMechanismDriver\n")


def write_clouds_yaml() -> None:
    entries = {"devcloud": "admin", "devcloud-service": "service"}
    lines = ["# Generated by devcloud/devcloud.py. Use: OS_CLIENT_CONFIG_FILE=<this file> OS_CLOUD=devcloud", "clouds:"]
    for cloud, project in entries.items():
        lines += [
            f"  {cloud}:",
            "    auth:",
            f"      auth_url: {KEYSTONE_URL}/v3",
            "      username: admin",
            f"      password: {ADMIN_PASSWORD}",
            f"      project_name: {project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            f"    region_name: {REGION}",
            "    interface: public",
            "    identity_api_version: 3",
        ]
    CLOUDS_YAML.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Installation: Debian packages and the services' virtualenv.


def find_program(name: str) -> str | None:
    # Root's PATH may lack the sbin directories where mariadbd lives.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def ensure_apt_packages() -> None:
    missing = {pkg for prog, pkg in APT_PACKAGES.items() if not find_program(prog)}
    # Debian's own Python splits venv/ensurepip and the C headers uwsgi compiles against into
    # packages of their own; other builds (pyenv, python.org) ship both.
    if sys.base_prefix == "/usr":
        include = Path(sysconfig.get_paths()["include"]) / "Python.h"
        if not include.exists():
            missing.add("python3-dev")
        if importlib.util.find_spec("ensurepip") is None:
            missing.add("python3-venv")
    missing = sorted(missing)
    if not missing:
        return
    print(f"installing Debian packages: {' '.join(missing)} (log: {LOGS / 'apt.log'})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with no_service_starts():
        for args in (["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
            run_logged(args, LOGS / "apt.log", env=env)


@contextlib.contextmanager
def no_service_starts():
    """Keep package scripts from starting system-wide services (rabbitmq-server's would listen on
    every interface): Debian's invoke-rc.d asks policy-rc.d, and 101 means "not now"."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# devcloud.py: no service starts during its package installs\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def venv_dir() -> Path:
    """The cached venv: keyed by the lock file and the interpreter that builds it."""
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    key = hashlib.sha256(REQUIREMENTS_LOCK.read_bytes() + f"\n{base}\n{sys.version}".encode()).hexdigest()[:16]
    return CACHE / f"devcloud-venv-{key}"


def ensure_venv() -> Path:
    venv = venv_dir()
    done = venv / ".devcloud-complete"  # written last: a venv without it is a broken build
    if done.exists():
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    print(f"building the services' virtualenv {venv} (log: {LOGS / 'pip.log'})", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = LOGS / "pip.log"
    run_logged([sys.executable, "-m", "venv", str(venv)], log)
    run_logged([str(venv / "bin/python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS_LOCK)], log)
    done.write_text(REQUIREMENTS_LOCK.read_text())
    return venv


def run_logged(args: list, log: Path, env: dict | None = None, ok_codes=(0,)) -> int:
    """Run a command with its output appended to log; raise with the log's tail on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(map(str, args))}\n")
        out.flush()
        code = subprocess.run([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env, cwd=DATA).returncode
    if code not in ok_codes:
        raise DevcloudError(f"command failed ({code}): {' '.join(map(str, args))}\n{tail(log)}")
    return code


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last {len(text)} lines of {path} ---\n" + "\n".join(text)


# ---------------------------------------------------------------------------------------------
# Processes: a pid file holds "pid starttime", so a recycled pid is never mistaken for ours.


def pid_file(name: str) -> Path:
    return RUN / f"{name}.pid"


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is dead
        return None
    return fields[19]


def running_pid(name: str) -> int | None:
    try:
        pid, start = pid_file(name).read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid) if proc_start_time(int(pid)) == start else None


def spawn(name: str, args: list, env: dict | None = None) -> int:
    log = LOGS / f"{name}.log"
    with log.open("a") as out:
        out.write(f"\n===== devcloud start {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(map(str, args))}\n")
        out.flush()
        # A session of its own: the service outlives this script and ignores its terminal's signals.
        proc = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=DATA, start_new_session=True)
    pid_file(name).write_text(f"{proc.pid} {proc_start_time(proc.pid)}\n")
    return proc.pid


def stop_process(name: str, sig: int, timeout: float = 30) -> None:
    pid = running_pid(name)
    if pid is not None:
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while running_pid(name) and time.monotonic() < deadline:
            time.sleep(0.2)
        if running_pid(name):
            os.kill(pid, signal.SIGKILL)
            while running_pid(name):
                time.sleep(0.1)
        print(f"stopped {name} (pid {pid})")
    pid_file(name).unlink(missing_ok=True)


def process_tree(pid: int) -> list:
    """pid and its descendants (a uwsgi master and its worker)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def memory_mib(pid: int | None) -> float:
    """Memory of a service, its process and its children, as proportional set size: a page shared
    by n processes counts 1/n in each (forked workers share most of their parent's), so the sum
    over services is the memory they take together. Resident size would count shared pages once
    per process."""
    total = 0
    for member in process_tree(pid) if pid else []:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def port_owner(port: int) -> str:
    """Who listens on a TCP port, from /proc (best effort: other users' fds may be hidden)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd") if inodes else []:
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd) in inodes:
                    pid = fd_dir.parent.name
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                    return f"pid {pid}: {cmd[:120]}"
        except OSError:
            continue
    return "an unknown process"


def check_port_free(name: str, port: int) -> None:
    with socket.socket() as sock:
        # As uwsgi does: connections of a stopped service linger in TIME_WAIT, which is no conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise DevcloudError(f"port {port} ({name}) is already in use by {port_owner(port)}")


# ---------------------------------------------------------------------------------------------
# MariaDB


def mariadb(sql: str) -> None:
    run_logged([find_program("mariadb"), f"--defaults-file={ETC / 'mariadb/my.cnf'}", "-uroot", "-e", sql],
               LOGS / "mariadb-init.log")


def mariadb_alive() -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(MYSQL_SOCKET))
            return bool(sock.recv(1))  # the server greets first
        except OSError:
            return False


def start_mariadb() -> None:
    if running_pid("mariadb") and mariadb_alive():
        return
    cnf = f"--defaults-file={ETC / 'mariadb/my.cnf'}"
    if not (MYSQL_DIR / "mysql").exists():
        shutil.rmtree(MYSQL_DIR, ignore_errors=True)
        run_logged([find_program("mariadb-install-db"), cnf, "--auth-root-authentication-method=socket",
                    "--skip-test-db"], LOGS / "mariadb-init.log")
    MYSQL_SOCKET.unlink(missing_ok=True)
    spawn("mariadb", [find_program("mariadbd"), cnf])
    wait_for("mariadb", mariadb_alive, 60)


def create_databases() -> None:
    statements = [f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4" for db in DATABASES]
    statements += [
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'localhost' IDENTIFIED BY '{DB_PASSWORD}'",
        f"GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'localhost'",
    ]
    mariadb("; ".join(statements))


# ---------------------------------------------------------------------------------------------
# RabbitMQ: Nova's and Octavia's message transport


def rabbitmq_env() -> dict:
    """Everything RabbitMQ writes under .devcloud/rabbitmq, and every port it opens on loopback."""
    return {
        **os.environ,
        "HOME": str(RABBIT_DIR),  # its Erlang cookie
        "RABBITMQ_NODENAME": "devcloud@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST, "RABBITMQ_NODE_PORT": str(RABBIT_PORT),
        "RABBITMQ_DIST_PORT": str(RABBIT_DIST_PORT),
        "ERL_EPMD_ADDRESS": HOST, "ERL_EPMD_PORT": str(EPMD_PORT),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_MNESIA_BASE": str(RABBIT_DIR / "mnesia"), "RABBITMQ_LOGS": "-",  # stdout: our log
        "RABBITMQ_CONFIG_FILE": str(ETC / "rabbitmq/rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(ETC / "rabbitmq/enabled_plugins"),
    }


def rabbitmq_alive() -> bool:
    """An AMQP 0-9-1 greeting is answered with connection.start (a method frame, type 1)."""
    try:
        with socket.create_connection((HOST, RABBIT_PORT), timeout=2) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(1) == b"\x01"
    except OSError:
        return False


def start_rabbitmq() -> None:
    if running_pid("rabbitmq") and rabbitmq_alive():
        return
    for port, name in ((RABBIT_PORT, "rabbitmq"), (RABBIT_DIST_PORT, "rabbitmq distribution")):
        check_port_free(name, port)
    RABBIT_DIR.mkdir(parents=True, exist_ok=True)
    write_text(ETC / "rabbitmq/rabbitmq.conf", "# Generated by devcloud/devcloud.py.\nloopback_users.guest = true\n")
    write_text(ETC / "rabbitmq/enabled_plugins", "[].\n")  # none: no management listener
    # The /usr/sbin wrapper switches to the rabbitmq user; the server itself runs as anyone.
    spawn("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"], rabbitmq_env())
    wait_for("rabbitmq", rabbitmq_alive, 120)
    # Erlang's port mapper daemonises (parent 1): stop it by its own pid with the rest.
    for pid in process_pids("epmd"):
        pid_file("epmd").write_text(f"{pid} {proc_start_time(pid)}\n")


def process_pids(command: str) -> list:
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == command:
                pids.append(int(comm.parent.name))
    return pids


# ---------------------------------------------------------------------------------------------
# Daemons: Nova's conductor, scheduler and computes, Octavia's controller


def start_daemon(venv: Path, daemon: Daemon) -> None:
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    spawn(daemon.name, [venv / "bin" / daemon.program, *config_args(daemon.configs)], env)


def nova_services(token: str | None) -> dict:
    """{(binary, host): (state, last report)} as Nova's API reports them (report times in UTC)."""
    status, _, body = http("GET", f"{api_url(API_BY_NAME['nova'])}/os-services", token=token)
    if status != 200:
        return {}
    return {(svc["binary"], svc["host"]): (svc["state"], svc["updated_at"] or "") for svc in body["services"]}


def daemon_health(daemon: Daemon, services: dict, since: str = "") -> str:
    """since: a UTC time (ISO format) the Nova service must have reported after; a process that
    just started is not up while Nova still shows its predecessor's last report."""
    if not running_pid(daemon.name):
        return "dead"
    state, reported = services.get(daemon.nova_service, ("down", ""))
    if daemon.nova_service and (state != "up" or reported < since):
        return "not up in nova"
    return "ok"


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def wait_daemons(daemons: list, since: str = "", timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        services = nova_services(admin_token())
        health = {daemon.name: daemon_health(daemon, services, since) for daemon in daemons}
        dead = [name for name, word in health.items() if word == "dead"]
        if dead:
            raise DevcloudError(f"{dead[0]} exited during start\n{tail(LOGS / f'{dead[0]}.log')}")
        pending = [name for name, word in health.items() if word != "ok"]
        if not pending:
            return
        if time.monotonic() > deadline:
            logs = "\n".join(tail(LOGS / f"{name}.log") for name in pending)
            raise DevcloudError(f"not up after {timeout}s: {', '.join(pending)}\n{logs}")
        time.sleep(1)


def discover_compute_hosts(venv: Path) -> None:
    """Map the computes into cell1, so the scheduler may place servers on them."""
    run_logged([venv / "bin/nova-manage", "--config-file", ETC / "nova/nova.conf", "cell_v2", "discover_hosts"],
               LOGS / "nova-init.log")


def ensure_compute_zones() -> None:
    """A host aggregate per compute, carrying its availability zone (COMPUTE_ZONES); idempotent."""
    nova, token = api_url(API_BY_NAME["nova"]), admin_token()

    def call(method, path, body=None):
        status, _, data = http(method, f"{nova}{path}", body, token)
        if status not in (200, 201):
            raise DevcloudError(f"nova {method} {path} answered {status}\n{tail(LOGS / 'nova.log')}")
        return data

    aggregates = {a["name"]: a for a in call("GET", "/os-aggregates")["aggregates"]}
    for host, zone in COMPUTE_ZONES.items():
        name = f"devcloud-{zone}"
        aggregate = aggregates.get(name) or call(
            "POST", "/os-aggregates", {"aggregate": {"name": name, "availability_zone": zone}})["aggregate"]
        if host not in aggregate.get("hosts", []):
            call("POST", f"/os-aggregates/{aggregate['id']}/action", {"add_host": {"host": host}})


def wait_for(name: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not running_pid(name):
            raise DevcloudError(f"{name} exited during start\n{tail(LOGS / f'{name}.log')}")
        if time.monotonic() > deadline:
            raise DevcloudError(f"{name} not ready after {timeout:.0f}s\n{tail(LOGS / f'{name}.log')}")
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# Database schemas: per service, commands run in order; services run side by side.


def init_steps(venv: Path) -> dict:
    bin_, etc = venv / "bin", ETC
    keystone = [bin_ / "keystone-manage", "--config-file", etc / "keystone/keystone.conf"]
    nova = [bin_ / "nova-manage", "--config-file", etc / "nova/nova.conf"]
    owner = ["--keystone-user", getpass.getuser(), "--keystone-group", grp.getgrgid(os.getgid()).gr_name]
    return {
        "keystone": [
            [*keystone, "db_sync"],
            [*keystone, "fernet_setup", *owner],
            [*keystone, "credential_setup", *owner],
            [*keystone, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD, "--bootstrap-region-id", REGION,
             *(arg for iface in ("admin", "internal", "public")
               for arg in (f"--bootstrap-{iface}-url", f"{KEYSTONE_URL}/v3"))],
        ],
        "neutron": [[bin_ / "neutron-db-manage", "--config-file", etc / "neutron/neutron.conf", "upgrade", "heads"]],
        "nova": [
            [*nova, "api_db", "sync"],
            [*nova, "cell_v2", "map_cell0", "--database_connection", db_url("nova_cell0")],
            # Exit code 2: the cell already exists (a re-run after an interrupted first start).
            # Casts to the cell's computes use the transport URL stored in its mapping.
            ([*nova, "cell_v2", "create_cell", "--name", "cell1", "--transport-url", TRANSPORT_URL], (0, 2)),
            [*nova, "db", "sync"],  # cell1 and cell0
        ],
        "glance": [[bin_ / "glance-manage", "--config-file", etc / "glance/glance-api.conf", "db_sync"]],
        "octavia": [[bin_ / "octavia-db-manage", "--config-file", etc / "octavia/octavia.conf", "upgrade", "head"]],
        "placement": [[bin_ / "placement-manage", "--config-file", etc / "placement/placement.conf", "db", "sync"]],
    }


def sync_databases(venv: Path) -> None:
    errors = []

    def run_steps(name, steps):
        try:
            for step in steps:
                args, ok = step if isinstance(step, tuple) else (step, (0,))
                run_logged(args, LOGS / f"{name}-init.log", ok_codes=ok)
        except DevcloudError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=run_steps, args=item) for item in init_steps(venv).items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise DevcloudError("database initialisation failed:\n" + "\n".join(errors))


# ---------------------------------------------------------------------------------------------
# Keystone REST: tokens, health probes, the catalogue.


def http(method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 15):
    """Returns (status, headers, parsed JSON or None); connection errors give status 0."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, err.headers, None
    except (OSError, ValueError):  # refused, reset, timeout, bad JSON
        return 0, {}, None


def admin_token(project: str = "admin") -> str | None:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}},
    }}
    status, headers, _ = http("POST", f"{KEYSTONE_URL}/v3/auth/tokens", body)
    return headers.get("X-Subject-Token") if status == 201 else None


def api_url(api: Api) -> str:
    return f"http://{HOST}:{api.port}{api.path}"


def probe_status(api: Api, token: str | None) -> int:
    """HTTP status of the API's authenticated probe; 0: no answer (refused, reset, timeout)."""
    if token is None:
        return 0
    return http("GET", f"http://{HOST}:{api.port}{api.probe}", token=token)[0]


def probe(api: Api, token: str | None) -> bool:
    return probe_status(api, token) == 200


class Catalogue:
    """Idempotent creation of keystone objects: find by name, else create."""

    def __init__(self, token: str):
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None):
        status, _, data = http(method, f"{KEYSTONE_URL}/v3{path}", body, self.token)
        if status not in (200, 201, 204):
            raise DevcloudError(f"keystone {method} {path} answered {status}\n{tail(LOGS / 'keystone.log')}")
        return data

    def ensure(self, kind: str, query: str, attrs: dict) -> str:
        found = self.call("GET", f"/{kind}?{query}")[kind]
        if found:
            return found[0]["id"]
        return self.call("POST", f"/{kind}", {kind[:-1]: attrs})[kind[:-1]]["id"]


def setup_catalogue(token: str) -> None:
    cat = Catalogue(token)
    project = cat.ensure("projects", "name=service&domain_id=default",
                         {"name": "service", "domain_id": "default", "description": "OpenStack services"})
    roles = {name: cat.ensure("roles", f"name={name}", {"name": name}) for name in ("admin", "service")}
    admin = cat.ensure("users", "name=admin&domain_id=default", {})
    cat.call("PUT", f"/projects/{project}/users/{admin}/roles/{roles['admin']}")
    for api in APIS[1:]:  # keystone's own user and endpoints come from bootstrap
        user = cat.ensure("users", f"name={api.name}&domain_id=default",
                          {"name": api.name, "password": SERVICE_PASSWORD, "domain_id": "default"})
        for role in roles.values():
            cat.call("PUT", f"/projects/{project}/users/{user}/roles/{role}")
        service = cat.ensure("services", f"type={api.service_type}", {"type": api.service_type, "name": api.name})
        for iface in ("public", "internal", "admin"):
            cat.ensure("endpoints", f"service_id={service}&interface={iface}",
                       {"service_id": service, "interface": iface, "url": api_url(api), "region_id": REGION})


# ---------------------------------------------------------------------------------------------
# The APIs under uwsgi


def uwsgi_args(venv: Path, api: Api) -> list:
    args = [
        # uwsgi's HTTP router holds the client connections and hands each request to a worker thread.
        # (With --http11-socket a thread sits on every idle keep-alive connection until uwsgi's 4 s
        # socket timeout, and a burst of clients, e.g. every service checking one new token, waits.)
        venv / "bin/uwsgi", "--http", f"{HOST}:{api.port}", "--http-keepalive",
        "--http-chunked-input",  # chunked uploads reach glance's uwsgi.chunked_read() as sent
        "--module", api.module, "--pythonpath", HERE, "--virtualenv", venv, "--need-app",  # HERE: neutron_wsgi.py
        "--master", "--die-on-term", "--no-orphans",  # SIGTERM stops rather than reloads
        # One worker process, so memory stays low, but two for Neutron, which serves a stack's
        # per-host objects (devstack runs every API with at least two). Four threads: requests
        # mostly wait on keystone, the database or another API, so threads overlap well.
        "--processes", str(api.processes), "--threads", "4",
        "--lazy-apps",  # load the app in each worker, not in the master
        "--buffer-size", "65535", "--procname-prefix-spaced", f"devcloud-{api.name}",
        # One line per request, in a file of its own: benchmarks count the API calls each tool makes.
        "--req-logger", f"file:{LOGS / f'{api.name}-requests.log'}",
        "--log-format", "%(tmsecs) %(method) %(uri) %(status) %(msecs)ms",  # start (epoch ms), duration
    ]
    if api.configs:
        args += ["--pyargv", " ".join(config_args(api.configs))]
    return args


def config_args(configs: tuple) -> list:
    """--config-file arguments for the files that exist (the stack's octavia.conf is optional)."""
    return [arg for rel in configs if (ETC / rel).exists() for arg in ("--config-file", str(ETC / rel))]


def start_api(venv: Path, api: Api) -> None:
    check_port_free(api.name, api.port)
    env = {**os.environ, **{var: str(ETC / rel) for var, rel in api.env}}
    env.pop("PYTHONPATH", None)
    spawn(api.name, uwsgi_args(venv, api), env)


def wait_healthy(apis: list, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pending = list(apis)
    while pending:
        token = admin_token()
        for api in list(pending):
            if not running_pid(api.name):
                raise DevcloudError(f"{api.name} exited during start\n{tail(LOGS / f'{api.name}.log')}")
            if probe(api, token):
                print(f"  {api.name} is up on {HOST}:{api.port}", flush=True)
                pending.remove(api)
        if pending and time.monotonic() > deadline:
            logs = "\n".join(tail(LOGS / f"{api.name}.log") for api in pending)
            raise DevcloudError(f"not answering after {timeout}s: {', '.join(a.name for a in pending)}\n{logs}")
        if pending:
            time.sleep(1)


# ---------------------------------------------------------------------------------------------
# Commands


def all_healthy() -> bool:
    token = admin_token()
    services = nova_services(token)
    return (running_pid("mariadb") is not None and mariadb_alive() and rabbitmq_alive()
            and all(running_pid(api.name) and probe(api, token) for api in APIS)
            and all(daemon_health(daemon, services) == "ok" for daemon in DAEMONS))


def check_initialised_layout() -> None:
    version = INITIALISED.read_text().split()[0] if INITIALISED.exists() else None
    if version not in (None, INIT_VERSION):
        raise DevcloudError("this devcloud was initialised by an older devcloud.py (no placement, no "
                            "message broker in Nova's cell): run `make devcloud-reset`, then start again")


def cmd_start() -> int:
    # Nova's state paths too: a compute writes its node identity there on its first start, and
    # refuses a later start without it.
    for path in (LOGS, RUN, RUN / "lock", ETC, GLANCE_DIR, DATA / "nova", *(DATA / host for host in COMPUTE_HOSTS)):
        path.mkdir(parents=True, exist_ok=True)
    check_initialised_layout()
    if all_healthy():
        ensure_compute_zones()  # a devcloud started by an older devcloud.py has none
        print(f"devcloud is already up (clouds.yaml: {CLOUDS_YAML})")
        return 0
    started = time.monotonic()
    ensure_apt_packages()
    venv = ensure_venv()
    write_configs(venv)
    plug_health_manager_interface()
    start_mariadb()
    start_rabbitmq()
    first = not INITIALISED.exists()
    if first:
        print("initialising databases (first start)", flush=True)
        create_databases()
        sync_databases(venv)
    keystone = API_BY_NAME["keystone"]
    if not running_pid("keystone"):
        start_api(venv, keystone)
    wait_healthy([keystone])
    if first:
        setup_catalogue(admin_token())
        INITIALISED.write_text(f"{INIT_VERSION} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    for api in APIS[1:]:
        if not running_pid(api.name):
            start_api(venv, api)
    wait_healthy(APIS[1:])
    since, starting = utc_now(), [daemon for daemon in DAEMONS if not running_pid(daemon.name)]
    for daemon in starting:
        start_daemon(venv, daemon)
    wait_daemons(starting, since)
    wait_daemons(DAEMONS)
    wait_for("placement", lambda: compute_providers() >= len(COMPUTE_HOSTS), 120)
    discover_compute_hosts(venv)
    ensure_compute_zones()
    print(f"devcloud is up in {time.monotonic() - started:.0f}s. Use it with:\n"
          f"  export OS_CLIENT_CONFIG_FILE={CLOUDS_YAML} OS_CLOUD=devcloud")
    return 0


def compute_providers() -> int:
    """Resource providers in Placement: each compute registers its own."""
    status, _, body = http("GET", f"{api_url(API_BY_NAME['placement'])}/resource_providers", token=admin_token())
    return len(body["resource_providers"]) if status == 200 else 0


def cmd_stop() -> int:
    # Daemons and APIs first (SIGTERM: uwsgi --die-on-term exits), the broker and database last.
    for name in [*(d.name for d in reversed(DAEMONS)), *(api.name for api in reversed(APIS)), "rabbitmq", "epmd"]:
        stop_process(name, signal.SIGTERM)
    stop_process("mariadb", signal.SIGTERM, timeout=60)
    return 0


def health_word(api: Api, token: str | None) -> str:
    if token is None:
        return "unknown (no keystone token)"
    code = probe_status(api, token)
    return "ok" if code == 200 else (f"error (HTTP {code})" if code else "not answering")


def cmd_status() -> int:
    token = admin_token()
    services = nova_services(token)
    rows = [("SERVICE", "PID", "PORT", "PSS MiB", "HEALTH")]

    def row(name, port, healthy_word):
        pid = running_pid(name)
        rows.append((name, pid or "-", port, f"{memory_mib(pid):.0f}", "dead" if pid is None else healthy_word()))

    row("mariadb", "socket", lambda: "ok" if mariadb_alive() else "not answering")
    row("rabbitmq", RABBIT_PORT, lambda: "ok" if rabbitmq_alive() else "not answering")
    for api in APIS:
        row(api.name, api.port, lambda api=api: health_word(api, token))
    for daemon in DAEMONS:
        row(daemon.name, "-", lambda daemon=daemon: daemon_health(daemon, services))
    for line in rows:
        print("{:<23} {:>8} {:>7} {:>8}  {}".format(*line))
    total = sum(float(line[3]) for line in rows[1:])
    print(f"total PSS {total:.0f} MiB  data: {DATA}  logs: {LOGS}  venv: {venv_dir()}")
    return 0 if all(line[4] == "ok" for line in rows[1:]) else 1


def cmd_reset() -> int:
    cmd_stop()
    unplug_health_manager_interface()
    # Only ever inside the data dir, which is always <project>/.devcloud.
    assert DATA.name == ".devcloud" and DATA.parent == ROOT
    for child in DATA.iterdir() if DATA.exists() else []:
        if child.name not in ("logs", LOCK.name):  # keep logs for the post-mortem, and the held lock
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    print(f"devcloud reset: databases, broker, image store and configs under {DATA} wiped")
    return 0


# ---------------------------------------------------------------------------------------------
# apply-stack: a foundation stack's outputs become the configuration of the devcloud's Octavia


# octavia.conf option naming a certificate file -> the stack output that goes into it.
CERT_OPTIONS = {
    ("certificates", "ca_certificate"): "ca_certificate",
    ("certificates", "ca_private_key"): "ca_private_key",
    ("haproxy_amphora", "server_ca"): "server_ca",
    ("haproxy_amphora", "client_cert"): "client_cert",
    ("controller_worker", "client_ca"): "client_ca",
}


def cmd_apply_stack(outputs_file: str, host: str | None) -> int:
    """Octavia's configuration from `pulumi stack output --json --show-secrets`, then a restart."""
    try:
        text = sys.stdin.read() if outputs_file == "-" else Path(outputs_file).read_text()
    except OSError as err:
        raise DevcloudError(f"cannot read the stack outputs: {err}") from None
    if not text.strip():
        raise DevcloudError(f"{outputs_file}: empty; expected `pulumi stack output --json --show-secrets`")
    try:
        outputs = json.loads(text)
        conf_text, ips, ports = outputs["octavia_conf"], outputs["health_manager_ips"], outputs["health_manager_ports"]
    except (ValueError, KeyError, TypeError) as err:
        raise DevcloudError(f"{outputs_file}: not the JSON outputs of a foundation stack "
                            f"(`pulumi stack output --json --show-secrets`): {err}") from None
    host = host or ("devcloud" if "devcloud" in ips else next(iter(ips)))
    if host not in ips:
        raise DevcloudError(f"health-manager host {host!r} is not in the stack; its hosts: {', '.join(ips)}")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(conf_text)
    for (section, option), output in CERT_OPTIONS.items():
        path = Path(conf.get(section, option))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(outputs[output])
        print(f"wrote {output} to {path}")
    (ETC / "octavia/stack.conf").write_text(conf_text)
    cidr = outputs["mgmt_subnet_cidr"]
    HM_HOST_FILE.write_text(json.dumps({
        "host": host, "address": ips[host], "prefixlen": int(cidr.split("/")[1]), "mac": port_mac(ports[host]),
    }) + "\n")
    print(f"this devcloud is health-manager host {host!r}: {ips[host]} on {HM_INTERFACE}")
    ensure_apt_packages()  # a devcloud started by an older devcloud.py may lack nftables
    venv = ensure_venv()
    write_configs(venv)
    plug_health_manager_interface()
    for name in OCTAVIA_SERVICES:
        stop_process(name, signal.SIGTERM)
    start_api(venv, API_BY_NAME["octavia"])
    daemons = [daemon for daemon in DAEMONS if daemon.name in OCTAVIA_SERVICES]
    for daemon in daemons:
        start_daemon(venv, daemon)
    wait_healthy([API_BY_NAME["octavia"]])
    time.sleep(3)  # a daemon that rejects its configuration exits within a moment
    wait_daemons(daemons)
    print("Octavia restarted with the stack's configuration")
    return 0


def port_mac(port_id: str) -> str:
    status, _, body = http("GET", f"{api_url(API_BY_NAME['neutron'])}/v2.0/ports/{port_id}", token=admin_token())
    if status != 200:
        answer = f"HTTP {status}" if status else "no answer (is the devcloud up? make devcloud)"
        raise DevcloudError(f"health-manager port {port_id} of the stack: Neutron gave {answer}")
    return body["port"]["mac_address"]


def plug_health_manager_interface() -> None:
    """This host's end of the management network, as a controller plugs its health-manager port:
    a bridge with the port's MAC and address. Namespaces of this machine (an amphora's stand-in in
    the tests) attach to it with veth pairs; it has no uplink. The health manager is the one
    devcloud service not on 127.0.0.1, so a firewall table drops packets for its address that
    arrive on any other interface: only this machine reaches it."""
    host = controller_host()
    if not host:
        return
    log = LOGS / "network.log"
    if not Path(f"/sys/class/net/{HM_INTERFACE}").exists():
        run_logged(["ip", "link", "add", HM_INTERFACE, "type", "bridge"], log)
    address = f"{host['address']}/{host['prefixlen']}"
    for args in (["link", "set", HM_INTERFACE, "address", host["mac"]], ["addr", "flush", "dev", HM_INTERFACE],
                 ["addr", "add", address, "dev", HM_INTERFACE, *(["nodad"] if ":" in address else [])],
                 ["link", "set", HM_INTERFACE, "up"]):
        run_logged(["ip", *args], log)
    family = "ip6" if ":" in host["address"] else "ip"
    ruleset = "\n".join([
        f"add table inet {HM_FIREWALL_TABLE}", f"delete table inet {HM_FIREWALL_TABLE}",  # replace, idempotently
        f"table inet {HM_FIREWALL_TABLE} {{", "  chain input {", "    type filter hook input priority 0; policy accept;",
        f'    iifname != {{ "lo", "{HM_INTERFACE}" }} {family} daddr {host["address"]} counter drop', "  }", "}", ""])
    run_logged(["nft", "-f", write_text(ETC / "health-manager.nft", ruleset)], log)


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def unplug_health_manager_interface() -> None:
    log = LOGS / "network.log"
    if Path(f"/sys/class/net/{HM_INTERFACE}").exists():
        run_logged(["ip", "link", "del", HM_INTERFACE], log)
    if find_program("nft"):
        run_logged(["nft", "delete", "table", "inet", HM_FIREWALL_TABLE], log, ok_codes=(0, 1))  # 1: no such table


COMMANDS = {"start": cmd_start, "stop": cmd_stop, "status": cmd_status, "reset": cmd_reset}


@contextlib.contextmanager
def exclusive():
    """Serialise the commands that change state: test sessions may call start side by side."""
    DATA.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_devcloud() -> dict:
    """Start the devcloud if needed (idempotent) and return the environment that selects it."""
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "start"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"devcloud start failed:\n{result.stdout}")
    return {"OS_CLIENT_CONFIG_FILE": str(CLOUDS_YAML), "OS_CLOUD": "devcloud"}


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        commands.add_parser(name)
    apply = commands.add_parser("apply-stack", help="configure the devcloud's Octavia from a stack's outputs")
    apply.add_argument("outputs", help="`pulumi stack output --json --show-secrets` in a file, or - for stdin")
    apply.add_argument("--host", help="the health-manager host this devcloud is (default: devcloud, else the first)")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return cmd_status()
        with exclusive():
            if args.command == "apply-stack":
                return cmd_apply_stack(args.outputs, args.host)
            return COMMANDS[args.command]()
    except DevcloudError as exc:
        print(f"devcloud {args.command} failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
