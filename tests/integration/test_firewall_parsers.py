"""The rendered health-manager firewalls against the real tools (Debian's nftables and iptables):
the parsers accept them, applied in a network namespace the test creates they list back as
rendered, and traffic over a veth pair named like the management interface is filtered as meant:
heartbeats from the management subnet pass (and their replies return), other ports and other
sources are rejected.

Needs root (network namespaces); installs nftables/iptables with apt-get if they are missing.
"""

import shutil
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from render.firewall import render_health_manager_firewalls
from config.settings import parse_settings
from testbed.stacks import make_test_image

TOOLS = {"nft": "nftables", "iptables-restore": "iptables", "ip6tables-restore": "iptables", "ip": "iproute2"}
HM_IP, AMP_IP, OUTSIDE_HM_IP, OUTSIDE_AMP_IP = "172.29.232.10", "172.29.232.60", "192.0.2.1", "192.0.2.7"
EHOSTUNREACH = 113  # what Linux reports for an ICMP administratively-prohibited reject


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = sorted({package for tool, package in TOOLS.items() if not shutil.which(tool)})
    if missing:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                       capture_output=True, env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})  # fmt: skip
    assert all(shutil.which(tool) for tool in TOOLS), "nftables/iptables/iproute2 not installable"


def sh(*argv, stdin=None, check=True):
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture
def netns():
    """Namespaces created on demand, all deleted at the end."""
    created = []

    def make():
        name = f"octfw-{uuid.uuid4().hex[:8]}"
        sh("ip", "netns", "add", name)
        created.append(name)
        return name

    yield make
    for name in created:
        sh("ip", "netns", "del", name, check=False)


def rendered(tmp_path, **overrides):
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    config = {
        "mgmt_subnet_cidr": "172.29.232.0/24",
        "mgmt_allocation_pools": [{"start": "172.29.232.50", "end": "172.29.232.250"}],
        "health_managers": [{"host": "ctl1", "ip": HM_IP}],
        "amp_images": [{"version": "v1", "source": str(image)}],
        "expected_loadbalancers": 10,
        "log_offload": True,
        **overrides,
    }
    return render_health_manager_firewalls(parse_settings(config, pki_parser=lambda s: s))["ctl1"]


def in_ns(ns, *argv, stdin=None, check=True):
    return sh("ip", "netns", "exec", ns, *argv, stdin=stdin, check=check)


def normalized(lines):
    return [line.strip().replace('"', "") for line in lines]


# --- parsers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("subnet", ["172.29.232.0/24", "fd00:172:29::/64"])
def test_nft_accepts_and_lists_back_the_rendered_table(tmp_path, netns, subnet):
    overrides = {} if ":" not in subnet else {"mgmt_subnet_cidr": subnet, "mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}]}
    text = rendered(tmp_path, **overrides)["nftables"]
    path = tmp_path / "hm.nft"
    path.write_text(text)
    ns = netns()
    in_ns(ns, "nft", "-c", "-f", str(path))
    in_ns(ns, "nft", "-f", str(path))
    in_ns(ns, "nft", "-f", str(path))  # re-applying replaces the table, it does not add a second
    tables = in_ns(ns, "nft", "list", "tables").stdout.split("\n")
    assert [t for t in tables if t] == ["table inet octavia_hm"]
    listed = normalized(in_ns(ns, "nft", "list", "table", "inet", "octavia_hm").stdout.splitlines())
    family = "ip6" if ":" in subnet else "ip"
    for rule in (
        "iifname o-hm0 jump management",
        "ct state established,related accept comment established",
        "meta l4proto { icmp, ipv6-icmp } accept comment icmp",
        f"{family} saddr {subnet} udp dport 5555 accept comment heartbeats",
        f"{family} saddr {subnet} udp dport 10514 accept comment log-offload-admin-log",
        f"{family} saddr {subnet} udp dport 20514 accept comment log-offload-tenant-log",
        "reject with icmpx admin-prohibited comment reject",
    ):
        assert rule in listed, (rule, listed)


def test_nft_rejects_a_broken_rendering(tmp_path, netns):
    path = tmp_path / "broken.nft"
    path.write_text(rendered(tmp_path)["nftables"].replace("udp dport 5555", "udp dprt 5555"))
    result = in_ns(netns(), "nft", "-c", "-f", str(path), check=False)
    assert result.returncode != 0 and "dprt" in result.stderr


@pytest.mark.parametrize("family", ["iptables", "ip6tables"])
def test_iptables_restore_accepts_and_saves_back_the_rendered_rules(tmp_path, netns, family):
    text = rendered(tmp_path)[family]
    ns = netns()
    in_ns(ns, f"{family}-restore", "--test", stdin=text)
    in_ns(ns, f"{family}-restore", "--noflush", stdin=text)
    saved = normalized(in_ns(ns, f"{family}-save", "-t", "filter").stdout.splitlines())
    expected = normalized(line for line in text.splitlines() if line.startswith("-A "))
    assert [line for line in saved if line.startswith("-A ")] == expected
    assert len(expected) == (7 if family == "iptables" else 4)  # jump + 6 or jump + 3 rules


def test_iptables_restore_rejects_a_broken_rendering(tmp_path, netns):
    text = rendered(tmp_path)["iptables"].replace("--reject-with icmp-admin-prohibited", "--reject-with icmp-nonsense")
    result = in_ns(netns(), "iptables-restore", "--test", stdin=text, check=False)
    assert result.returncode != 0


# --- traffic ------------------------------------------------------------------------------------

LISTENER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.settimeout(1.5)  # accepted packets arrive at once; this is the wait for a rejected one
    print("ready", flush=True)
    try:
        data, peer = s.recvfrom(100)
        s.sendto(b"ack", peer)
        print("got", peer[0], flush=True)
    except socket.timeout:
        print("nothing", flush=True)
""")
SENDER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 0))
    s.connect((sys.argv[2], int(sys.argv[3])))
    s.settimeout(2)
    s.send(b"heartbeat")
    try:
        print(s.recv(100).decode())
    except OSError as err:
        print(f"errno {err.errno}" if err.errno else "timeout")
""")


PING = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2)
    s.sendto(bytes([8, 0, 0xF7, 0xFE, 0, 1, 0, 0]), (sys.argv[1], 0))  # echo request, checksum precomputed
    while True:
        packet = s.recv(100)
        if packet[20] == 0:
            print("echo reply")
            break
""")


@pytest.fixture
def wired(netns):
    """A health-manager namespace whose o-hm0 is a veth to an amphora namespace."""
    hm, amp = netns(), netns()
    sh("ip", "link", "add", "o-hm0", "netns", hm, "type", "veth", "peer", "name", "eth0", "netns", amp)
    for ns, iface, addresses in ((hm, "o-hm0", (HM_IP, OUTSIDE_HM_IP)), (amp, "eth0", (AMP_IP, OUTSIDE_AMP_IP))):
        in_ns(ns, "ip", "link", "set", "lo", "up")
        in_ns(ns, "ip", "link", "set", iface, "up")
        for address in addresses:
            in_ns(ns, "ip", "addr", "add", f"{address}/24", "dev", iface)
    return hm, amp


def exchange(hm, amp, source, destination, port):
    listener = subprocess.Popen(["ip", "netns", "exec", hm, sys.executable, "-c", LISTENER, str(port)],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert listener.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # the veth needs a moment after link up on slow machines
        reply = in_ns(amp, sys.executable, "-c", SENDER, source, destination, str(port)).stdout.strip()
    finally:
        heard = listener.communicate(timeout=10)[0].strip()
    return reply, heard


@pytest.mark.parametrize("apply", ["nftables", "iptables"])
def test_heartbeats_from_the_subnet_pass_everything_else_is_rejected(tmp_path, wired, apply):
    hm, amp = wired
    rules = rendered(tmp_path)
    if apply == "nftables":
        (tmp_path / "hm.nft").write_text(rules["nftables"])
        in_ns(hm, "nft", "-f", str(tmp_path / "hm.nft"))
    else:
        in_ns(hm, "iptables-restore", "--noflush", stdin=rules["iptables"])
        in_ns(hm, "ip6tables-restore", "--noflush", stdin=rules["ip6tables"])
    # A heartbeat from an amphora's address arrives, and the reply comes back (established).
    assert exchange(hm, amp, AMP_IP, HM_IP, 5555) == ("ack", f"got {AMP_IP}")
    # Log offload is open too (log_offload is on in this config).
    assert exchange(hm, amp, AMP_IP, HM_IP, 10514) == ("ack", f"got {AMP_IP}")
    # Another port, even from the subnet: rejected before the listener sees it.
    assert exchange(hm, amp, AMP_IP, HM_IP, 9443) == (f"errno {EHOSTUNREACH}", "nothing")
    # The heartbeat port from outside the management subnet, on the same interface: rejected.
    assert exchange(hm, amp, OUTSIDE_AMP_IP, OUTSIDE_HM_IP, 5555) == (f"errno {EHOSTUNREACH}", "nothing")
    # ICMP is accepted (echo request and reply).
    assert in_ns(amp, sys.executable, "-c", PING, HM_IP).stdout.strip() == "echo reply"
