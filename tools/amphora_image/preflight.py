"""Checks before any build work: each problem is one line saying what to install or change.

The checks are pure functions of a Probe (what the host looks like), so unit tests fake the host;
`Probe.real()` looks at this machine.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional

from tools.amphora_image.plan import DIB_ARCHITECTURES, BuildOptions, option_errors

GIB = 1 << 30


@dataclass(frozen=True)
class Tool:
    commands: tuple[str, ...]  # any one of them will do
    purpose: str
    debian: str  # package providing it on Debian/Ubuntu
    redhat: str  # on the Red Hat family


# Needed for every build. diskimage-create.sh itself insists on qemu-utils, git, kpartx and
# debootstrap on Debian/Ubuntu hosts, whatever the base OS.
COMMON_TOOLS = (
    Tool(("qemu-img",), "converts the built disk to qcow2", "qemu-utils", "qemu-img"),
    Tool(("kpartx",), "maps the partitions of the image's loop device", "kpartx", "kpartx"),
    Tool(("losetup",), "attaches the image file to a loop device", "mount", "util-linux"),
    Tool(("git",), "fetches the amphora-agent source", "git", "git"),
    Tool(("sudo",), "diskimage-builder runs its privileged steps through sudo, even as root", "sudo", "sudo"),
    Tool(("debootstrap",), "bootstraps Ubuntu; diskimage-create.sh requires it on any Debian/Ubuntu host",
         "debootstrap", "debootstrap"),  # fmt: skip
)
BASE_OS_TOOLS = {
    "centos-minimal": (Tool(("dnf",), "bootstraps CentOS Stream", "dnf", "dnf"),),
    "fedora": (Tool(("dnf",), "bootstraps Fedora", "dnf", "dnf"),),
    "rocky": (Tool(("podman", "docker"), "unpacks the Rocky Linux container image", "podman", "podman"),),
}
# Host `uname -m` spellings of each amp_image_architecture.
HOST_MACHINES = {"x86_64": ("x86_64", "amd64"), "aarch64": ("aarch64", "arm64"), "ppc64le": ("ppc64le",)}


def needed_gib(options: BuildOptions) -> dict[str, int]:
    """Free space per build directory: the raw disk and chroot, the distribution cache, the image."""
    return {"work_dir": 2 * options.size_gb + 4, "cache_dir": 3, "output_dir": options.size_gb}


@dataclass(frozen=True)
class Probe:
    which: Callable[[str], Optional[str]]
    euid: Callable[[], int]
    has_loop_control: Callable[[], bool]
    free_loop_device: Callable[[], Optional[str]]  # None: losetup --find found none
    free_bytes: Callable[[str], int]  # on the filesystem that would hold the path
    host_family: Callable[[], str]  # "debian", "redhat" or "other"
    machine: Callable[[], str]
    has_binfmt: Callable[[str], bool]  # a binfmt_misc handler for that architecture's binaries
    env: Callable[[str], Optional[str]]
    has_venv: Callable[[], bool]  # this Python can create virtualenvs (ensurepip)

    @staticmethod
    def real() -> "Probe":
        return Probe(
            which=shutil.which,
            euid=os.geteuid,
            has_loop_control=lambda: os.path.exists("/dev/loop-control"),
            free_loop_device=_losetup_find,
            free_bytes=_free_bytes,
            host_family=_host_family,
            machine=platform.machine,
            has_binfmt=lambda arch: os.path.exists(f"/proc/sys/fs/binfmt_misc/qemu-{arch}"),
            env=os.environ.get,
            has_venv=lambda: importlib.util.find_spec("ensurepip") is not None,
        )


def _losetup_find() -> Optional[str]:
    if not shutil.which("losetup"):
        return None
    result = subprocess.run(["losetup", "--find"], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def _free_bytes(path: str) -> int:
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return shutil.disk_usage(path).free


def _host_family() -> str:
    try:
        text = open("/etc/os-release").read().lower()
    except OSError:
        return "other"
    ids = " ".join(line.split("=", 1)[1] for line in text.splitlines() if line.startswith(("id=", "id_like=")))
    if any(name in ids for name in ("debian", "ubuntu")):
        return "debian"
    if any(name in ids for name in ("rhel", "fedora", "centos")):
        return "redhat"
    return "other"


def _install_hint(tool: Tool, family: str) -> str:
    if family == "redhat":
        return f"dnf install {tool.redhat}"
    if family == "debian":
        return f"apt-get install {tool.debian}"
    return f"install {tool.debian} (Debian/Ubuntu) or {tool.redhat} (Red Hat family)"


def tool_errors(options: BuildOptions, probe: Probe) -> list[str]:
    family, errors = probe.host_family(), []
    for tool in (*COMMON_TOOLS, *BASE_OS_TOOLS.get(options.base_os, ())):
        if not any(probe.which(command) for command in tool.commands):
            errors.append(f"missing {' or '.join(tool.commands)} ({tool.purpose}): {_install_hint(tool, family)}")
    return errors


def privilege_errors(probe: Probe) -> list[str]:
    euid = probe.euid()
    if euid == 0:
        return []
    return [
        f"not root (effective uid {euid}): diskimage-builder mounts loop devices and chroots into the "
        "image; run the build as root, e.g. `sudo make amphora-image`"
    ]


def python_errors(probe: Probe) -> list[str]:
    if probe.has_venv():
        return []
    hint = "dnf install python3-pip" if probe.host_family() == "redhat" else "apt-get install python3-venv"
    return [f"this Python cannot create virtualenvs (no ensurepip; diskimage-builder is installed into one): {hint}"]


def loop_errors(probe: Probe) -> list[str]:
    if not probe.has_loop_control():
        return [
            "no loop devices (/dev/loop-control is missing): load the driver with `modprobe loop`; "
            "in a container, run it privileged with /dev/loop-control and /dev/loop* passed in"
        ]
    if probe.which("losetup") and probe.free_loop_device() is None:
        return [
            "no free loop device (`losetup --find` found none): detach unused ones (`losetup -a`, "
            "`losetup -d DEVICE`) or allow more (`modprobe loop max_loop=16`)"
        ]
    return []


def space_errors(options: BuildOptions, dirs: dict[str, str], probe: Probe) -> list[str]:
    errors = []
    for name, gib in needed_gib(options).items():
        free = probe.free_bytes(dirs[name])
        if free < gib * GIB:
            errors.append(
                f"not enough disk space for the {name.replace('_', ' ')} {dirs[name]}: {free / GIB:.1f} GiB "
                f"free, {gib} GiB needed; free some or point --{name.replace('_', '-')} elsewhere"
            )
    return errors


def architecture_errors(options: BuildOptions, probe: Probe) -> list[str]:
    if options.architecture not in DIB_ARCHITECTURES or probe.machine() in HOST_MACHINES[options.architecture]:
        return []
    if probe.has_binfmt(options.architecture):
        return []
    return [
        f"building {options.architecture} on a {probe.machine()} host needs user-mode emulation: "
        "apt-get install qemu-user-static binfmt-support (or build on a host of that architecture)"
    ]


def base_os_errors(options: BuildOptions, probe: Probe) -> list[str]:
    if options.base_os == "rhel" and not probe.env("DIB_LOCAL_IMAGE"):
        return ["--base-os rhel needs DIB_LOCAL_IMAGE set to a RHEL cloud image (qcow2) you are entitled to"]
    return []


def preflight(options: BuildOptions, dirs: dict[str, str], probe: Probe) -> list[str]:
    """Every problem found, one line each; empty when the build can start."""
    errors = option_errors(options)
    if errors:
        return errors
    return [
        *privilege_errors(probe),
        *tool_errors(options, probe),
        *python_errors(probe),
        *loop_errors(probe),
        *space_errors(options, dirs, probe),
        *architecture_errors(options, probe),
        *base_os_errors(options, probe),
    ]
