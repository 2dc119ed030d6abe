#!/usr/bin/env python3
"""devcloud: a local OpenStack control plane (API services only, no VMs) on 127.0.0.1.

    python3 devcloud/devcloud.py start|stop|status|reset

Runs MariaDB (Debian package) and the Keystone, Neutron, Nova, Glance and Octavia APIs (pinned
2026.2 releases, each under uwsgi) from a virtualenv of their own. Everything the devcloud
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

# Debian packages, keyed by a program each provides. The -core packages bring the server and
# client without an init script, so installing them starts no system-wide MariaDB.
APT_PACKAGES = {
    "mariadbd": "mariadb-server-core",
    "mariadb": "mariadb-client-core",
    "qemu-img": "qemu-utils",
    "cc": "gcc",  # uwsgi is compiled from source by pip
}
START_TIMEOUT = 420  # seconds for all APIs to answer; generous, the CI machine may be busy
DATABASES = ["keystone", "neutron", "nova_api", "nova", "nova_cell0", "glance", "octavia"]

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
    pyargv: str = ""  # arguments for the WSGI module's sys.argv, under ETC
    processes: int = 1  # uwsgi worker processes


APIS = [
    Api("keystone", 5000, "keystone.wsgi.api", "identity", "/v3", "/v3/projects",
        env=(("OS_KEYSTONE_CONFIG_FILES", "keystone/keystone.conf"),)),
    Api("neutron", 9696, "neutron_wsgi", "network", "", "/v2.0/networks",  # devcloud/neutron_wsgi.py
        pyargv="--config-file {etc}/neutron/neutron.conf", processes=2),
    Api("nova", 8774, "nova.wsgi.osapi_compute", "compute", "/v2.1", "/v2.1/flavors",
        env=(("OS_NOVA_CONFIG_DIR", "nova"),)),
    Api("glance", 9292, "glance.wsgi.api", "image", "", "/v2/images",
        env=(("OS_GLANCE_CONFIG_DIR", "glance"),)),
    Api("octavia", 9876, "octavia.wsgi.api", "load-balancer", "", "/v2/lbaas/flavors",
        pyargv="--config-file {etc}/octavia/octavia.conf"),
]
API_BY_NAME = {api.name: api for api in APIS}


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
    common = {"debug": "false", "transport_url": "fake:/"}  # no broker: RPC casts go nowhere
    lock_path = {"lock_path": str(RUN / "lock")}
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
                **common, "core_plugin": "ml2", "service_plugins": "", "auth_strategy": "keystone",
                "api_paste_config": str(ETC / "neutron/api-paste.ini"), "state_path": str(DATA / "neutron"),
                # No nova to notify about port changes.
                "notify_nova_on_port_status_changes": "false", "notify_nova_on_port_data_changes": "false",
            },
            "database": {"connection": db_url("neutron")},
            "keystone_authtoken": authtoken("neutron"),
            "oslo_concurrency": lock_path,
            "ml2": {
                "type_drivers": "flat,vlan,vxlan,geneve", "tenant_network_types": "vxlan",
                # No mechanism driver: ports with a binding host are accepted and stored, and show
                # binding:vif_type=binding_failed, as no agent could wire them anyway. The in-tree
                # drivers that bind (openvswitch, linuxbridge, ...) want a live agent on the host.
                "mechanism_drivers": "", "extension_drivers": "port_security",
            },
            "ml2_type_flat": {"flat_networks": FLAT_NETWORKS},
            "ml2_type_vlan": {"network_vlan_ranges": VLAN_RANGES},
            "ml2_type_vxlan": {"vni_ranges": VNI_RANGES},
            "ml2_type_geneve": {"vni_ranges": VNI_RANGES, "max_header_size": "38"},
            "securitygroup": {"enable_security_group": "true", "firewall_driver": "noop"},
        },
        "nova/nova.conf": {
            "DEFAULT": {**common, "state_path": str(DATA / "nova"), "my_ip": HOST, "host": "devcloud"},
            "api": {"auth_strategy": "keystone"},
            "wsgi": {"api_paste_config": str(ETC / "nova/api-paste.ini")},
            "api_database": {"connection": db_url("nova_api")},
            "database": {"connection": db_url("nova")},  # the cell1 database
            "keystone_authtoken": authtoken("nova"),
            # Nova checks project ids (flavor access, quota sets) against keystone with the caller's token.
            "keystone": {"region_name": REGION, "valid_interfaces": "public"},
            "oslo_concurrency": lock_path,
            "oslo_messaging_notifications": {"driver": "noop"},
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
    for args in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
        run_logged(args, LOGS / "apt.log", env=env)


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


def rss_mib(pid: int | None) -> float:
    """Resident memory of a service: its process and its children."""
    total = 0
    for member in process_tree(pid) if pid else []:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
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


def check_port_free(api: Api) -> None:
    with socket.socket() as sock:
        # As uwsgi does: connections of a stopped service linger in TIME_WAIT, which is no conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, api.port))
        except OSError:
            raise DevcloudError(f"port {api.port} ({api.name}) is already in use by {port_owner(api.port)}")


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
            ([*nova, "cell_v2", "create_cell", "--name", "cell1"], (0, 2)),
            [*nova, "db", "sync"],  # cell1 and cell0
        ],
        "glance": [[bin_ / "glance-manage", "--config-file", etc / "glance/glance-api.conf", "db_sync"]],
        "octavia": [[bin_ / "octavia-db-manage", "--config-file", etc / "octavia/octavia.conf", "upgrade", "head"]],
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
    if api.pyargv:
        args += ["--pyargv", api.pyargv.format(etc=ETC)]
    return args


def start_api(venv: Path, api: Api) -> None:
    check_port_free(api)
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


def healthy_apis() -> list:
    token = admin_token()
    return [api for api in APIS if running_pid(api.name) and probe(api, token)]


def cmd_start() -> int:
    for path in (LOGS, RUN, RUN / "lock", ETC, GLANCE_DIR):
        path.mkdir(parents=True, exist_ok=True)
    if running_pid("mariadb") and mariadb_alive() and len(healthy_apis()) == len(APIS):
        print(f"devcloud is already up (clouds.yaml: {CLOUDS_YAML})")
        return 0
    started = time.monotonic()
    ensure_apt_packages()
    venv = ensure_venv()
    write_configs(venv)
    start_mariadb()
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
        INITIALISED.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    others = [api for api in APIS[1:] if not running_pid(api.name)]
    for api in others:
        start_api(venv, api)
    wait_healthy(APIS[1:])
    print(f"devcloud is up in {time.monotonic() - started:.0f}s. Use it with:\n"
          f"  export OS_CLIENT_CONFIG_FILE={CLOUDS_YAML} OS_CLOUD=devcloud")
    return 0


def cmd_stop() -> int:
    # APIs first (SIGTERM: uwsgi --die-on-term exits), the database last.
    for api in reversed(APIS):
        stop_process(api.name, signal.SIGTERM)
    stop_process("mariadb", signal.SIGTERM, timeout=60)
    return 0


def health_word(api: Api, token: str | None) -> str:
    if token is None:
        return "unknown (no keystone token)"
    code = probe_status(api, token)
    return "ok" if code == 200 else (f"error (HTTP {code})" if code else "not answering")


def cmd_status() -> int:
    token = admin_token()
    rows = [("SERVICE", "PID", "PORT", "RSS MiB", "HEALTH")]
    pid = running_pid("mariadb")
    rows.append(("mariadb", pid or "-", "socket", f"{rss_mib(pid):.0f}",
                 "ok" if pid and mariadb_alive() else ("dead" if pid is None else "not answering")))
    for api in APIS:
        pid = running_pid(api.name)
        health = "dead" if pid is None else health_word(api, token)
        rows.append((api.name, pid or "-", api.port, f"{rss_mib(pid):.0f}", health))
    for row in rows:
        print("{:<10} {:>8} {:>7} {:>8}  {}".format(*row))
    print(f"data: {DATA}  logs: {LOGS}  venv: {venv_dir()}")
    return 0 if all(row[4] == "ok" for row in rows[1:]) else 1


def cmd_reset() -> int:
    cmd_stop()
    # Only ever inside the data dir, which is always <project>/.devcloud.
    assert DATA.name == ".devcloud" and DATA.parent == ROOT
    for child in DATA.iterdir() if DATA.exists() else []:
        if child.name not in ("logs", LOCK.name):  # keep logs for the post-mortem, and the held lock
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    print(f"devcloud reset: databases, image store and configs under {DATA} wiped")
    return 0


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
    parser.add_argument("command", choices=COMMANDS)
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return cmd_status()
        with exclusive():
            return COMMANDS[args.command]()
    except DevcloudError as exc:
        print(f"devcloud {args.command} failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
