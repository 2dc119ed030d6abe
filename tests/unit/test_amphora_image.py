"""tools/amphora_image: the assembled diskimage-create.sh command, the preflight errors (faked hosts
and this real one), the manifest, and how the settings take a manifest entry."""

import dataclasses
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.image_manifest import read_manifest
from config.settings import parse_settings
from octavia_support import base_config
from testbed.stacks import make_test_image
from tools.amphora_image import plan
from tools.amphora_image.preflight import COMMON_TOOLS, GIB, Probe, preflight

ROOT = Path(__file__).resolve().parents[2]
PATHS = plan.BuildPaths("/c/src/octavia-19.0.0", "/c/dib", "/c/dib-cache", "/c/work", "/out")
NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
DIRS = {"work_dir": "/c/work", "cache_dir": "/c", "output_dir": "/out"}


def command(**options):
    opts = plan.BuildOptions(**options)
    return plan.build_command(opts, PATHS, plan.image_version(opts, NOW), {"PATH": "/usr/bin", "HOME": "/root"})


def flag_value(argv, flag):
    return argv[argv.index(flag) + 1]


# --- the command ------------------------------------------------------------------------------


def test_default_command_builds_ubuntu_noble_with_the_pinned_agent():
    argv, env = command()
    image = "/out/amphora-x64-haproxy-19.0.0-noble-20260301T120000Z.qcow2"
    assert argv == [
        "bash", "/c/src/octavia-19.0.0/diskimage-create/diskimage-create.sh",
        "-i", "ubuntu-minimal", "-d", "noble", "-a", "amd64", "-s", "2", "-t", "qcow2",
        "-o", image, "-c", "/c/dib-cache", "-w", "/c/work",
        "-l", "/out/amphora-x64-haproxy-19.0.0-noble-20260301T120000Z.build.log",
    ]  # fmt: skip
    # Without these diskimage-create.sh builds the agent from Octavia's master branch.
    assert env["DIB_REPOLOCATION_amphora_agent"] == "https://opendev.org/openstack/octavia"
    assert env["DIB_REPOREF_amphora_agent"] == "19.0.0" == plan.OCTAVIA_VERSION
    assert env["DIB_REPOLOCATION_upper_constraints"] == "https://releases.openstack.org/constraints/upper/2026.2"
    assert env["PATH"] == "/c/dib/bin:/usr/bin" and env["DIB_REPO_PATH"] == "/c/dib"
    assert env["OCTAVIA_REPO_PATH"] == "/c/src/octavia-19.0.0" and env["HOME"] == "/root"


def test_production_options_map_to_the_scripts_flags():
    argv, _ = command(base_os="rocky", release="9", size_gb=4, fips=True, architecture="aarch64",
                      disable_sshd=True, no_tmpfs=True)  # fmt: skip
    assert (flag_value(argv, "-i"), flag_value(argv, "-d"), flag_value(argv, "-s")) == ("rocky", "9", "4")
    assert flag_value(argv, "-a") == "arm64"
    # -y is FIPS in diskimage-create.sh; -f disables tmpfs (easy to swap by mistake).
    assert argv[-3:] == ["-y", "-n", "-f"]
    assert flag_value(argv, "-o").endswith("-19.0.0-9-20260301T120000Z-fips.qcow2")


def test_agent_from_packages_drops_the_git_source():
    argv, env = command(agent_from_packages=True)
    assert "-p" in argv
    assert not any(key.startswith("DIB_REPO") and key != "DIB_REPO_PATH" for key in env)


def test_agent_source_can_point_at_a_fork():
    _, env = command(agent_repo="https://git.example.com/octavia", agent_ref="stable/2026.2-patched")
    assert env["DIB_REPOLOCATION_amphora_agent"] == "https://git.example.com/octavia"
    assert env["DIB_REPOREF_amphora_agent"] == "stable/2026.2-patched"


def test_explicit_version_names_image_and_manifest():
    opts = plan.BuildOptions(version="2026.03-1")
    assert plan.image_version(opts, NOW) == "2026.03-1"
    argv, _ = command(version="2026.03-1")
    assert flag_value(argv, "-o") == "/out/amphora-x64-haproxy-2026.03-1.qcow2"


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"fips": True}, "--fips with ubuntu-minimal"),
        ({"base_os": "rhel", "size_gb": 2}, "rhel needs at least 3 GB"),
        ({"base_os": "debian"}, "--base-os debian: choose one of ubuntu-minimal"),
        ({"architecture": "s390x"}, "--arch s390x: choose one of x86_64, aarch64, ppc64le"),
    ],
)
def test_options_the_script_would_reject_fail_first(options, fragment):
    errors = preflight(plan.BuildOptions(**options), DIRS, fake_probe())
    assert len(errors) == 1 and fragment in errors[0]


def test_octavia_pin_is_the_devclouds():
    lock = (ROOT / "devcloud" / "requirements.lock").read_text()
    assert f"\noctavia=={plan.OCTAVIA_VERSION}\n" in lock
    assert re.fullmatch(r"[0-9a-f]{64}", plan.OCTAVIA_SDIST_SHA256)


# --- preflight against faked hosts ---------------------------------------------------------------


def fake_probe(**changes):
    good = Probe(
        which=lambda name: f"/usr/bin/{name}",
        euid=lambda: 0,
        has_loop_control=lambda: True,
        free_loop_device=lambda: "/dev/loop0",
        free_bytes=lambda path: 100 * GIB,
        host_family=lambda: "debian",
        machine=lambda: "x86_64",
        has_binfmt=lambda arch: False,
        env=lambda name: None,
        has_venv=lambda: True,
    )
    return dataclasses.replace(good, **changes)


def test_a_ready_host_passes():
    assert preflight(plan.BuildOptions(), DIRS, fake_probe()) == []


@pytest.mark.parametrize(
    "missing, package",
    [("qemu-img", "apt-get install qemu-utils"), ("kpartx", "apt-get install kpartx"),
     ("debootstrap", "apt-get install debootstrap"), ("git", "apt-get install git"),
     ("sudo", "apt-get install sudo"), ("losetup", "apt-get install mount")],
)  # fmt: skip
def test_each_missing_tool_is_one_error_naming_its_package(missing, package):
    probe = fake_probe(which=lambda name: None if name == missing else f"/usr/bin/{name}")
    errors = preflight(plan.BuildOptions(), DIRS, probe)
    assert len(errors) == 1 and errors[0].startswith(f"missing {missing} (") and errors[0].endswith(package)


def test_red_hat_hosts_get_dnf_package_names():
    probe = fake_probe(which=lambda name: None if name == "qemu-img" else "/x", host_family=lambda: "redhat")
    assert preflight(plan.BuildOptions(), DIRS, probe) == [
        "missing qemu-img (converts the built disk to qcow2): dnf install qemu-img"
    ]


def test_base_os_tools_and_alternatives():
    no_containers = fake_probe(which=lambda name: None if name in ("podman", "docker") else "/x")
    errors = preflight(plan.BuildOptions(base_os="rocky"), DIRS, no_containers)
    assert errors == ["missing podman or docker (unpacks the Rocky Linux container image): apt-get install podman"]
    docker_only = fake_probe(which=lambda name: None if name == "podman" else "/x")
    assert preflight(plan.BuildOptions(base_os="rocky"), DIRS, docker_only) == []


def test_not_root():
    errors = preflight(plan.BuildOptions(), DIRS, fake_probe(euid=lambda: 1000))
    assert len(errors) == 1 and errors[0].startswith("not root (effective uid 1000)") and "sudo make amphora-image" in errors[0]


def test_no_loop_devices():
    errors = preflight(plan.BuildOptions(), DIRS, fake_probe(has_loop_control=lambda: False))
    assert len(errors) == 1 and "no loop devices" in errors[0] and "modprobe loop" in errors[0]
    errors = preflight(plan.BuildOptions(), DIRS, fake_probe(free_loop_device=lambda: None))
    assert len(errors) == 1 and "no free loop device" in errors[0]


def test_not_enough_disk_space_names_the_directory_and_the_need():
    probe = fake_probe(free_bytes=lambda path: 5 * GIB if path == "/c/work" else 100 * GIB)
    errors = preflight(plan.BuildOptions(size_gb=3), DIRS, probe)
    assert errors == [
        "not enough disk space for the work dir /c/work: 5.0 GiB free, 10 GiB needed; "
        "free some or point --work-dir elsewhere"
    ]


def test_cross_architecture_needs_emulation():
    errors = preflight(plan.BuildOptions(architecture="aarch64"), DIRS, fake_probe())
    assert len(errors) == 1 and "qemu-user-static" in errors[0]
    assert preflight(plan.BuildOptions(architecture="aarch64"), DIRS, fake_probe(has_binfmt=lambda a: True)) == []


def test_python_without_venv():
    errors = preflight(plan.BuildOptions(), DIRS, fake_probe(has_venv=lambda: False))
    assert len(errors) == 1 and errors[0].endswith("apt-get install python3-venv")


def test_rhel_needs_a_local_base_image():
    errors = preflight(plan.BuildOptions(base_os="rhel", size_gb=3), DIRS, fake_probe())
    assert len(errors) == 1 and "DIB_LOCAL_IMAGE" in errors[0]


def test_every_problem_at_once_is_one_line_each():
    probe = fake_probe(euid=lambda: 1000, which=lambda n: None if n == "kpartx" else "/x",
                       has_loop_control=lambda: False, free_bytes=lambda p: 0)  # fmt: skip
    errors = preflight(plan.BuildOptions(), DIRS, probe)
    assert [e.split(" ")[0] for e in errors] == ["not", "missing", "no", "not", "not", "not"]
    assert all("\n" not in e for e in errors)


# --- the real preflight on this machine -----------------------------------------------------------


def test_real_preflight_on_this_machine_reports_what_is_really_missing(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "tools.amphora_image", "preflight", "--output-dir", str(tmp_path / "out"),
         "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    lines = out.stderr.splitlines()
    missing = [tool.commands[0] for tool in COMMON_TOOLS if not shutil.which(tool.commands[0])]
    for tool in missing:
        assert sum(line.startswith(f"preflight: missing {tool} (") for line in lines) == 1, (tool, lines)
    assert not any(line.startswith("preflight: missing") for line in lines if line.split()[2] not in missing)
    assert any("not root" in line for line in lines) == (os.geteuid() != 0)
    assert any("no loop devices" in line for line in lines) == (not os.path.exists("/dev/loop-control"))
    assert (out.returncode == 1) == bool(lines) and all(line.startswith("preflight: ") for line in lines)
    if not lines:
        assert out.stdout.strip() == "preflight: ok, this host can build the image"


def test_dry_run_prints_the_command_it_would_run(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "tools.amphora_image", "build", "--dry-run", "--version", "t1", "--fips",
         "--base-os", "centos-minimal", "--output-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    last = out.stdout.splitlines()[-1]
    assert " -i centos-minimal -d 10-stream " in last and last.endswith(" -y")
    assert f"-o {tmp_path}/amphora-x64-haproxy-t1.qcow2" in last
    assert "export DIB_REPOREF_amphora_agent=19.0.0" in out.stdout
    assert not (tmp_path / "amphora-x64-haproxy-t1.qcow2").exists()


# --- manifests and the stack ----------------------------------------------------------------------


def write_image(path: Path, data: bytes = b"amphora") -> Path:
    """A real (empty) qcow2, as the stack checks the file's format, made distinct by data after it."""
    make_test_image(path, "1M")
    with path.open("ab") as handle:
        handle.write(data)  # qemu-img still reads a qcow2: its header says where its clusters are
    return path


def manifest_for(image: Path, *args: str) -> Path:
    out = subprocess.run([sys.executable, "-m", "tools.amphora_image", "manifest", "--from-existing", str(image), *args],
                         cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    manifest = image.with_name(image.stem + ".manifest.json")
    assert f"manifest: {manifest}" in out.stdout
    return manifest


def test_manifest_from_existing_records_the_image(tmp_path):
    image = write_image(tmp_path / "amphora.qcow2")
    fields = json.loads(manifest_for(image, "--version", "v7", "--disable-sshd").read_text())
    assert fields["version"] == "v7" and fields["image"] == "amphora.qcow2"
    assert fields["sha256"] == __import__("hashlib").sha256(image.read_bytes()).hexdigest()
    assert fields["size_bytes"] == image.stat().st_size
    assert (fields["octavia_version"], fields["base_os"], fields["base_os_release"]) == ("19.0.0", "ubuntu-minimal", "noble")
    assert fields["architecture"] == "x86_64" and fields["sshd"] is False and fields["fips"] is False
    assert fields["amphora_agent"]["ref"] == "19.0.0" and fields["built_by"].startswith("external")
    datetime.datetime.fromisoformat(fields["built_at"])


def test_manifest_default_version_carries_octavia_release_and_date(tmp_path):
    image = write_image(tmp_path / "amphora.qcow2")
    os.utime(image, (NOW.timestamp(), NOW.timestamp()))
    assert read_manifest(str(manifest_for(image))).version == "19.0.0-noble-20260301T120000Z"


def test_manifest_of_a_missing_image_fails(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tools.amphora_image", "manifest", "--from-existing",
                          str(tmp_path / "nope.qcow2")], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 1 and "no such file" in out.stderr


def settings_with(tmp_path, entries, **extra):
    config = {**base_config(str(write_image(tmp_path / "unused.qcow2"))), "amp_images": entries, **extra}
    return parse_settings(config, pki_parser=lambda section: section)


def test_a_manifest_entry_gives_version_file_and_checksum(tmp_path):
    v1 = manifest_for(write_image(tmp_path / "b1" / "a.qcow2", b"one"), "--version", "v1")
    v2 = manifest_for(write_image(tmp_path / "b2" / "a.qcow2", b"two"), "--version", "v2")
    image = settings_with(tmp_path, [{"manifest": str(v1)}, {"manifest": str(v2)}]).image
    assert [(v.version, v.source) for v in image.versions] == [
        ("v1", str(tmp_path / "b1" / "a.qcow2")), ("v2", str(tmp_path / "b2" / "a.qcow2"))
    ]  # fmt: skip
    assert image.current.sha256 == read_manifest(str(v2)).sha256


def test_manifest_entries_mix_with_version_source_entries(tmp_path):
    old = write_image(tmp_path / "old.qcow2")
    new = manifest_for(write_image(tmp_path / "new.qcow2", b"new"), "--version", "v2")
    assert [v.version for v in settings_with(tmp_path, [{"version": "v1", "source": str(old)}, {"manifest": str(new)}]).image.versions] == ["v1", "v2"]


def bad_manifest_cases(tmp_path):
    good = manifest_for(write_image(tmp_path / "good.qcow2"), "--version", "g1")
    changed = manifest_for(write_image(tmp_path / "changed.qcow2"), "--version", "c1")
    (tmp_path / "changed.qcow2").write_bytes(b"rebuilt since")
    arm = manifest_for(write_image(tmp_path / "arm.qcow2"), "--version", "a1", "--arch", "aarch64")
    broken = tmp_path / "broken.manifest.json"
    broken.write_text("{not json")
    partial = tmp_path / "partial.manifest.json"
    partial.write_text(json.dumps({"manifest_format": 1, "version": "p1"}))
    def manifest(path):
        return {"manifest": str(path)}

    return {
        "missing": ([manifest(tmp_path / "gone.manifest.json")], "amp_images[0].manifest", "no such manifest file"),
        "not-json": ([manifest(broken)], "amp_images[0].manifest", "not a readable JSON manifest"),
        "missing-keys": ([manifest(partial)], "amp_images[0].manifest", "a manifest needs the keys"),
        "sha256-mismatch": ([manifest(changed)], "amp_images[0]", "its sha256 differs"),
        "architecture": ([manifest(arm)], "amp_images[0].manifest", "amp_image_architecture x86_64 (the manifest says aarch64)"),
        "manifest-as-source": ([{"version": "v9", "source": str(good)}], "amp_images[0].source", "written {manifest: PATH}"),
        "version-and-manifest": ([{"version": "v9", "manifest": str(good)}], "amp_images[0]", "{version, source, disk_format (optional)} or {manifest}"),
        "duplicate-version": ([manifest(good), {"version": "g1", "source": str(tmp_path / "good.qcow2")}], "amp_images", "unique versions"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "not-json", "missing-keys", "sha256-mismatch", "architecture", "manifest-as-source",
             "version-and-manifest", "duplicate-version"],
)  # fmt: skip
def test_bad_manifest_entries_name_their_amp_images_entry(tmp_path, case):
    entries, key, fragment = bad_manifest_cases(tmp_path)[case]
    with pytest.raises(ConfigError) as caught:
        settings_with(tmp_path, entries)
    assert caught.value.key == key and fragment in str(caught.value)


def test_only_the_current_image_is_checksummed(tmp_path):
    # Kept versions are already in Glance: their files may be gone, their manifests must stay.
    old = manifest_for(write_image(tmp_path / "old.qcow2"), "--version", "v1")
    new = manifest_for(write_image(tmp_path / "new.qcow2", b"new"), "--version", "v2")
    (tmp_path / "old.qcow2").unlink()
    assert settings_with(tmp_path, [{"manifest": str(old)}, {"manifest": str(new)}]).image.current.version == "v2"
