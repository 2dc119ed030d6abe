"""The health-manager host side, applied: the `health_manager_plugs` script of a stack deployed on
the devcloud, run in a fresh network namespace with a real Open vSwitch.

Open vSwitch comes from Debian (openvswitch-switch, installed with apt-get if missing). The test
runs its own ovsdb-server and ovs-vswitchd inside the namespace, with their database, unix sockets
(OVS_RUNDIR) and logs in a temporary directory; the database listens on a unix socket only,
nothing on the network. Without the kernel module the bridge uses the userspace datapath
(`datapath_type=netdev`, internal ports are tap devices). A bridge `br-int` stands in for the one
the Neutron agent or OVN creates. The script runs unchanged; afterwards the interface must exist
with the Neutron port's MAC and address, and OVS must carry the port's iface-id and MAC; running
it again changes nothing. The IPv6 (SLAAC) rendering is applied the same way, without a stack.

If Open vSwitch cannot run here, the scripts are only parsed (`sh -n` and the command structure)
and the tests are reported as skipped with the reason. Needs root (network namespaces).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from render.host_plug import render_host_plug
from testbed.devcloud_support import connect

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
ALLOCATED_HOST = "ctl2"  # the stack's second health manager: Neutron allocates its address


def sh(*argv, env=None, stdin=None, check=True):
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}{result.stdout}")
    return result


class Switch:
    """ovsdb-server and ovs-vswitchd in a network namespace of their own; everything in a temp dir."""

    def __init__(self):
        self.namespace = f"octhm-{uuid.uuid4().hex[:8]}"
        self.dir = Path(tempfile.mkdtemp(prefix="octavia-ovs-"))
        self.env = {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_LOGDIR": str(self.dir), "OVS_DBDIR": str(self.dir)}
        self.processes: list[subprocess.Popen] = []
        self.datapath = "system" if Path("/sys/module/openvswitch").exists() else "netdev"

    def start(self) -> None:
        sh("ip", "netns", "add", self.namespace)
        sh("ovsdb-tool", "create", str(self.dir / "conf.db"), str(SCHEMA))
        self._daemon("ovsdb", "ovsdb-server", str(self.dir / "conf.db"), f"--remote=punix:{self.dir / 'db.sock'}")
        self._wait_for(self.dir / "db.sock")
        self.vsctl("--no-wait", "init")
        self._daemon("vswitchd", "ovs-vswitchd", f"unix:{self.dir / 'db.sock'}")
        self.vsctl("--timeout=30", "add-br", "br-int", "--", "set", "Bridge", "br-int", f"datapath_type={self.datapath}")

    def _daemon(self, name: str, *argv: str) -> None:
        log = self.dir / f"{name}.log"
        command = ["ip", "netns", "exec", self.namespace, *argv, f"--unixctl={self.dir / name}.ctl",
                   f"--log-file={log}", "--no-chdir"]  # fmt: skip
        self.processes.append(subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def _wait_for(self, path: Path, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"{path} did not appear: {self.logs()}")
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in self.dir.glob("*.log"))

    def vsctl(self, *args: str) -> str:
        return sh("ovs-vsctl", *args, env=self.env).stdout.strip()

    def run(self, script: str):
        """The rendered script as root in the namespace, with this switch's ovs-vsctl socket."""
        return sh("ip", "netns", "exec", self.namespace, "sh", "-c", script, env=self.env)

    def in_ns(self, *argv: str):
        return sh("ip", "netns", "exec", self.namespace, *argv)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sh("ip", "netns", "del", self.namespace, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def switch():
    """A running Open vSwitch in a fresh namespace, or None (with the reason) if it cannot run here."""
    if not shutil.which("ovs-vswitchd"):
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "openvswitch-switch"],
                       capture_output=True, env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})  # fmt: skip
    if not (shutil.which("ovs-vswitchd") and SCHEMA.exists()):
        yield None, "openvswitch-switch is not installed and apt-get could not install it"
        return
    ovs = Switch()
    try:
        ovs.start()
    except (AssertionError, RuntimeError) as err:
        ovs.stop()
        yield None, f"Open vSwitch does not run here: {err}"
        return
    try:
        yield ovs, None
    finally:
        ovs.stop()


def parse_only(script: str, reason: str) -> None:
    """What is checked when OVS cannot run: the shell parses the script and its commands are the plug's."""
    sh("sh", "-n", stdin=script)
    commands = [shlex.split(line) for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert [c[0] for c in commands][:4] == ["set", "bridge=${OVS_BRIDGE:-br-int}", "ovs-vsctl", "ip"]
    pytest.skip(f"{reason}; the script was only parsed")


def interface_state(ovs: Switch, interface: str) -> dict:
    link = ovs.in_ns("ip", "-o", "link", "show", "dev", interface).stdout
    addresses = ovs.in_ns("ip", "-o", "addr", "show", "dev", interface).stdout.split()
    ids = ovs.vsctl("get", "Interface", interface, "external-ids", "type")
    return {"link": link.split("link/ether ")[1].split()[0], "up": ",UP" in link or "<UP" in link,
            "addresses": [addresses[i + 1] for i, word in enumerate(addresses) if word in ("inet", "inet6")], "ovs": ids}  # fmt: skip


def test_rendered_plug_of_a_deployed_port_binds_an_ovs_interface_with_its_mac_and_address(stacks, switch):
    ovs, reason = switch
    stack = stacks.create(
        "local", {"health_managers": [{"host": "devcloud", "ip": "172.29.232.10"}, {"host": ALLOCATED_HOST}]}
    )
    outputs = stack.up().outputs
    plugs = outputs["health_manager_plugs"].value
    assert set(plugs) == {"devcloud", ALLOCATED_HOST}
    plug = plugs[ALLOCATED_HOST]
    port = connect(stack.workspace.env_vars).network.get_port(plug["port_id"])
    assert plug["port_id"] == outputs["health_manager_ports"].value[ALLOCATED_HOST]
    assert plug["mac_address"] == port.mac_address
    assert plug["ip_address"] == port.fixed_ips[0]["ip_address"] == outputs["health_manager_ips"].value[ALLOCATED_HOST]
    assert ipaddress.ip_address(plug["ip_address"]) in ipaddress.ip_network("172.29.232.0/24")
    assert (plug["interface"], plug["prefix_length"], plug["addressing"]) == ("o-hm0", 24, "static")
    if ovs is None:
        parse_only(plug["ovs"], reason)

    ovs.run(plug["ovs"])
    state = interface_state(ovs, "o-hm0")
    assert state["link"] == port.mac_address and state["up"]
    assert f"{plug['ip_address']}/24" in state["addresses"]
    assert f'iface-id="{port.id}"' in state["ovs"] and f'attached-mac="{port.mac_address}"' in state["ovs"]
    assert 'iface-status=active' in state["ovs"] and state["ovs"].endswith("internal")
    assert "o-hm0" in ovs.vsctl("list-ports", "br-int").split()

    ovs.run(plug["ovs"])  # again: nothing changes, nothing fails
    assert interface_state(ovs, "o-hm0") == state
    assert ovs.vsctl("list-ports", "br-int").split().count("o-hm0") == 1


def test_rendered_ipv6_plug_sets_the_slaac_sysctls_and_address(switch):
    ovs, reason = switch
    mac, cidr = "fa:16:3e:4c:2d:91", ipaddress.ip_network("fd00:29::/64")
    address = "fd00:29::f816:3eff:fe4c:2d91"  # EUI-64 of the MAC, as Neutron computes a SLAAC port's address
    plug = render_host_plug("ctl1", "o-hm0", str(uuid.uuid4()), mac, address, cidr, mtu=1450)
    if ovs is None:
        parse_only(plug["ovs"], reason)

    ovs.run(plug["ovs"])
    state = interface_state(ovs, "o-hm0")
    assert state["link"] == mac and f"{address}/64" in state["addresses"]
    assert f'iface-id="{plug["port_id"]}"' in state["ovs"]
    assert "mtu 1450" in ovs.in_ns("ip", "link", "show", "dev", "o-hm0").stdout
    sysctl = {key: ovs.in_ns("cat", f"/proc/sys/net/ipv6/conf/o-hm0/{key}").stdout.strip()
              for key in ("accept_ra", "accept_ra_defrtr", "autoconf", "addr_gen_mode", "use_tempaddr")}  # fmt: skip
    assert sysctl == {"accept_ra": "2", "accept_ra_defrtr": "0", "autoconf": "1", "addr_gen_mode": "0", "use_tempaddr": "0"}
    # the link-local address is EUI-64 of the MAC too: the kernel forms addresses as Neutron does
    assert "fe80::f816:3eff:fe4c:2d91/64" in state["addresses"]
