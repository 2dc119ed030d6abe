"""The amphora image build, as data: pinned inputs, options, and the exact command they make.

Pure functions only (no I/O), so the assembled `diskimage-create.sh` command line and environment
are unit-tested as they are run.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Optional

from config.image_manifest import FORMAT as MANIFEST_FORMAT

# Octavia of the devcloud (devcloud/requirements.lock); its sdist carries diskimage-create/ and
# elements/ (the wheel has neither). sha256 as served by PyPI for octavia-19.0.0.tar.gz.
OCTAVIA_VERSION = "19.0.0"
OCTAVIA_SDIST = f"octavia-{OCTAVIA_VERSION}.tar.gz"
OCTAVIA_SDIST_SHA256 = "accaa633297c9994439a060e8b786c336fe549bfee6c7314663b514f59a81004"
# The OpenStack series Octavia 19 belongs to (the devcloud's 2026.2): its upper constraints pin the
# amphora agent's Python dependencies inside the image.
OPENSTACK_SERIES = "2026.2"
# diskimage-create/requirements.txt of 19.0.0 asks for diskimage-builder>=3.40.1; this is the
# newest release at the time of pinning.
DISKIMAGE_BUILDER_VERSION = "3.43.0"

AGENT_REPO = "https://opendev.org/openstack/octavia"
UPPER_CONSTRAINTS_URL = f"https://releases.openstack.org/constraints/upper/{OPENSTACK_SERIES}"

# Base OS (diskimage-create.sh -i) -> its default release (-d), as the script's defaults.
BASE_OS_RELEASES = {
    "ubuntu-minimal": "noble",
    "centos-minimal": "10-stream",
    "rocky": "10",
    "rhel": "10",
    "fedora": "28",
}
RED_HAT_FAMILY = ("centos-minimal", "rocky", "rhel", "fedora")  # amphora-fips supports only these
MIN_SIZE_GB = {"rhel": 3, "fedora": 3}  # the script refuses smaller
# Glance hw_architecture (amp_image_architecture) -> diskimage-create.sh -a.
DIB_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le"}
IMAGE_BASENAME = "amphora-x64-haproxy"


@dataclass(frozen=True)
class BuildOptions:
    base_os: str = "ubuntu-minimal"
    release: Optional[str] = None  # None: the base OS's default
    size_gb: int = 2
    fips: bool = False
    architecture: str = "x86_64"
    agent_from_packages: bool = False  # distribution packages instead of the git source
    agent_repo: str = AGENT_REPO
    agent_ref: str = OCTAVIA_VERSION  # the tag matching the controllers' Octavia
    upper_constraints: str = UPPER_CONSTRAINTS_URL
    disable_sshd: bool = False
    no_tmpfs: bool = False
    version: Optional[str] = None  # None: derived from Octavia version, release and build time

    @property
    def effective_release(self) -> str:
        return self.release or BASE_OS_RELEASES[self.base_os]


@dataclass(frozen=True)
class BuildPaths:
    octavia_src: str  # the extracted sdist
    dib_venv: str  # virtualenv with diskimage-builder
    dib_cache: str  # diskimage-builder's image cache (-c)
    work_dir: str  # diskimage-create.sh working directory (-w)
    output_dir: str  # image, manifest and log


def option_errors(options: BuildOptions) -> list[str]:
    """Options diskimage-create.sh or its elements would reject, each with the fix."""
    errors = []
    if options.base_os not in BASE_OS_RELEASES:
        errors.append(f"--base-os {options.base_os}: choose one of {', '.join(BASE_OS_RELEASES)}")
        return errors
    if options.architecture not in DIB_ARCHITECTURES:
        errors.append(f"--arch {options.architecture}: choose one of {', '.join(DIB_ARCHITECTURES)}")
    minimum = MIN_SIZE_GB.get(options.base_os, 1)
    if options.size_gb < minimum:
        errors.append(f"--size {options.size_gb}: {options.base_os} needs at least {minimum} GB")
    if options.fips and options.base_os not in RED_HAT_FAMILY:
        errors.append(
            f"--fips with {options.base_os}: Octavia's amphora-fips element supports only "
            f"{', '.join(RED_HAT_FAMILY)}; choose one with --base-os"
        )
    return errors


def image_version(options: BuildOptions, now: datetime.datetime) -> str:
    """e.g. 19.0.0-noble-20260301T120000Z, -fips appended for FIPS images."""
    if options.version:
        return options.version
    stamp = now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{OCTAVIA_VERSION}-{options.effective_release}-{stamp}{'-fips' if options.fips else ''}"


def image_file(output_dir: str, version: str) -> str:
    return os.path.join(output_dir, f"{IMAGE_BASENAME}-{version}.qcow2")


def build_command(
    options: BuildOptions, paths: BuildPaths, version: str, base_env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the diskimage-create.sh run."""
    output = image_file(paths.output_dir, version)
    argv = [
        "bash", os.path.join(paths.octavia_src, "diskimage-create", "diskimage-create.sh"),
        "-i", options.base_os,
        "-d", options.effective_release,
        "-a", DIB_ARCHITECTURES[options.architecture],
        "-s", str(options.size_gb),
        "-t", "qcow2",
        "-o", output,
        "-c", paths.dib_cache,
        "-w", paths.work_dir,
        "-l", os.path.splitext(output)[0] + ".build.log",
    ]  # fmt: skip
    flags = ((options.fips, "-y"), (options.agent_from_packages, "-p"), (options.disable_sshd, "-n"),
             (options.no_tmpfs, "-f"))  # fmt: skip
    argv += [flag for enabled, flag in flags if enabled]
    env = {
        **base_env,
        # disk-image-create and its helpers come from the pinned virtualenv.
        "PATH": f"{os.path.join(paths.dib_venv, 'bin')}:{base_env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}",
        "DIB_REPO_PATH": paths.dib_venv,
        "OCTAVIA_REPO_PATH": paths.octavia_src,
        "DIB_OCTAVIA_AMP_USE_NFTABLES": "True",
    }
    if not options.agent_from_packages:
        # Without these the agent is built from Octavia's master branch, whatever the controllers run.
        env["DIB_REPOLOCATION_amphora_agent"] = options.agent_repo
        env["DIB_REPOREF_amphora_agent"] = options.agent_ref
        env["DIB_REPOLOCATION_upper_constraints"] = options.upper_constraints
    return argv, env


def manifest_fields(
    options: BuildOptions, version: str, image_name: str, sha256: str, size_bytes: int,
    built_at: datetime.datetime, built_by: str,
) -> dict:  # fmt: skip
    """The manifest (config.image_manifest) of one image."""
    agent = (
        {"source": "package"}
        if options.agent_from_packages
        else {"source": "git", "repo": options.agent_repo, "ref": options.agent_ref,
              "upper_constraints": options.upper_constraints}
    )  # fmt: skip
    return {
        "manifest_format": MANIFEST_FORMAT,
        "version": version,
        "image": image_name,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "disk_format": "qcow2",
        "architecture": options.architecture,
        "octavia_version": OCTAVIA_VERSION,
        "base_os": options.base_os,
        "base_os_release": options.effective_release,
        "image_size_gb": options.size_gb,
        "fips": options.fips,
        "sshd": not options.disable_sshd,
        "amphora_agent": agent,
        "diskimage_builder_version": DISKIMAGE_BUILDER_VERSION,
        "built_at": built_at.astimezone(datetime.timezone.utc).isoformat(timespec="seconds"),
        "built_by": built_by,
    }
