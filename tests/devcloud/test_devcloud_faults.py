"""Fault behaviour of devcloud.py: a dead service and a port taken by another process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from devcloud import devcloud as dc

SCRIPT = [sys.executable, str(dc.HERE / "devcloud.py")]
VICTIM = dc.API_BY_NAME["octavia"]  # the API nothing else depends on


def run(command: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCRIPT, command], capture_output=True, text=True, timeout=900)


def kill_victim() -> int:
    pid = dc.running_pid(VICTIM.name)
    assert pid, "the devcloud should be up before the fault is injected"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while dc.running_pid(VICTIM.name) or not port_free(VICTIM.port):  # its worker follows it
        assert time.monotonic() < deadline, f"{VICTIM.name} still there after SIGKILL"
        time.sleep(0.2)
    return pid


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((dc.HOST, port)) != 0


def status_line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.split()[:1] == [name])


def test_status_all_ok(devcloud_env):
    result = run("status")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in dc.SERVICE_NAMES:
        assert status_line(result.stdout, name).endswith(" ok")


def test_killed_service_shows_dead_and_start_brings_it_back(devcloud_env):
    with dc.exclusive():  # no other session's start revives it before status looks
        kill_victim()
        result = run("status")
    assert result.returncode != 0
    line = status_line(result.stdout, VICTIM.name)
    assert line.endswith(" dead") and str(VICTIM.port) in line
    assert status_line(result.stdout, "keystone").endswith(" ok")  # the others are untouched

    started = run("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"{VICTIM.name} is up" in started.stdout
    assert status_line(run("status").stdout, VICTIM.name).endswith(" ok")


def test_a_stopped_compute_host_comes_back_with_its_identity(devcloud_env):
    """A compute refuses to restart without the node identity it wrote on its first start."""
    daemon = next(d for d in dc.DAEMONS if d.name == "nova-compute-1")
    with dc.exclusive():
        dc.stop_process(daemon.name, signal.SIGTERM)
        result = run("status")
    assert status_line(result.stdout, daemon.name).endswith(" dead")
    started = run("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert status_line(run("status").stdout, daemon.name).endswith(" ok")  # and up in Nova's service list


def test_start_names_a_taken_port(devcloud_env):
    kill_victim()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the victim's closed connections linger
    try:
        squatter.bind((dc.HOST, VICTIM.port))
        squatter.listen()
        result = run("start")
        assert result.returncode != 0
        message = result.stderr
        assert f"port {VICTIM.port} ({VICTIM.name}) is already in use" in message
        assert f"pid {os.getpid()}" in message  # the squatter: this test's process
    finally:
        squatter.close()
        started = run("start")  # leave the devcloud up for the other tests
    assert started.returncode == 0, started.stdout + started.stderr


def test_start_when_up_does_nothing(devcloud_env):
    pids = {name: dc.running_pid(name) for name in dc.SERVICE_NAMES}
    result = run("start")
    assert result.returncode == 0
    assert "already up" in result.stdout
    assert {name: dc.running_pid(name) for name in pids} == pids


def test_freshly_started_neutron_grants_concurrent_admin_writes(devcloud_env):
    """Neutron's lazy policy init let requests racing the first one see no rules (403 for an admin)."""
    from concurrent.futures import ThreadPoolExecutor

    from testbed.stacks import connect

    conns = [connect(devcloud_env, "devcloud-service") for _ in range(8)]
    project_id = conns[0].current_project_id  # every token before the restart: nothing reaches Neutron yet
    quota = conns[0].network.get_quota(project_id).security_groups
    neutron = dc.API_BY_NAME["neutron"]
    with dc.exclusive():
        os.kill(dc.running_pid(neutron.name), signal.SIGTERM)
        while dc.running_pid(neutron.name) or not port_free(neutron.port):
            time.sleep(0.2)
        dc.start_api(dc.venv_dir(), neutron)
        while port_free(neutron.port):  # listening; no request has been served yet
            time.sleep(0.1)
        with ThreadPoolExecutor(len(conns)) as pool:
            refused = [e for e in pool.map(lambda c: _try(c.network.update_quota, project_id, security_groups=quota), conns) if e]
    dc.wait_healthy([neutron])
    assert not refused


def _try(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 (the test reports each refusal)
        return error
    return None
