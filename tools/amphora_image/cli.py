"""Build a production amphora image with Octavia's own diskimage-create.sh, and write its manifest.

    python -m tools.amphora_image preflight [OPTIONS]     what this host lacks, one line each
    python -m tools.amphora_image build [OPTIONS]         preflight, then build IMAGE + manifest
    python -m tools.amphora_image build --dry-run         the exact command and environment
    python -m tools.amphora_image manifest --from-existing FILE [OPTIONS]
                                                          a manifest for an image built elsewhere

A build needs root, loop devices and the distribution mirrors of the base OS (plus opendev.org
for the amphora agent, PyPI for diskimage-builder and the Octavia source).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Optional

from config.image_manifest import SUFFIX, file_sha256, manifest_path_for, write_manifest
from tools.amphora_image import plan
from tools.amphora_image.preflight import Probe, preflight

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT_DIR = ROOT / "build" / "amphora"
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "octavia-infra" / "amphora-image"


class BuildError(Exception):
    """A build step failed; the message says which and what to look at."""


# --- options ------------------------------------------------------------------------------------


def add_image_options(parser: argparse.ArgumentParser) -> None:
    defaults = plan.BuildOptions()
    parser.add_argument("--base-os", default=defaults.base_os, help="amphora OS (default %(default)s)")
    parser.add_argument("--release", help="base OS release (default: noble for Ubuntu, the script's for others)")
    parser.add_argument("--size", type=int, default=defaults.size_gb, help="disk size in GB (default %(default)s)")
    parser.add_argument("--fips", action="store_true", help="FIPS 140 mode (Red Hat family base OS only)")
    parser.add_argument("--arch", default=defaults.architecture, help="x86_64, aarch64 or ppc64le (default %(default)s)")
    parser.add_argument("--agent-from-packages", action="store_true",
                        help="install amphora-agent from distribution packages, not git")  # fmt: skip
    parser.add_argument("--agent-repo", default=defaults.agent_repo, help="amphora-agent git repository")
    parser.add_argument("--agent-ref", default=defaults.agent_ref,
                        help="amphora-agent git ref (default: tag %(default)s, the controllers' Octavia)")  # fmt: skip
    parser.add_argument("--upper-constraints", default=defaults.upper_constraints,
                        help="upper-constraints URL for the agent's Python dependencies")  # fmt: skip
    parser.add_argument("--disable-sshd", action="store_true", help="no SSH daemon in the image")
    parser.add_argument("--no-tmpfs", action="store_true", help="build on disk instead of tmpfs (hosts with little RAM)")
    parser.add_argument("--version", dest="image_version",
                        help="image version (default: OCTAVIA-RELEASE-UTCSTAMP, e.g. 19.0.0-noble-20260301T120000Z)")  # fmt: skip


def options_from(args: argparse.Namespace) -> plan.BuildOptions:
    return plan.BuildOptions(
        base_os=args.base_os,
        release=args.release,
        size_gb=args.size,
        fips=args.fips,
        architecture=args.arch,
        agent_from_packages=args.agent_from_packages,
        agent_repo=args.agent_repo,
        agent_ref=args.agent_ref,
        upper_constraints=args.upper_constraints,
        disable_sshd=args.disable_sshd,
        no_tmpfs=args.no_tmpfs,
        version=args.image_version,
    )


def build_paths(cache_dir: Path, output_dir: Path, work_dir: Optional[Path]) -> plan.BuildPaths:
    return plan.BuildPaths(
        octavia_src=str(cache_dir / "src" / f"octavia-{plan.OCTAVIA_VERSION}"),
        dib_venv=str(cache_dir / f"diskimage-builder-{plan.DISKIMAGE_BUILDER_VERSION}"),
        dib_cache=str(cache_dir / "dib-cache"),
        work_dir=str(work_dir or cache_dir / "work"),
        output_dir=str(output_dir),
    )


def build_dirs(paths: plan.BuildPaths, cache_dir: Path) -> dict[str, str]:
    return {"work_dir": paths.work_dir, "cache_dir": str(cache_dir), "output_dir": paths.output_dir}


# --- build steps --------------------------------------------------------------------------------


def run(argv: list[str], what: str, **kwargs) -> None:
    print(f"+ {shlex.join(argv)}", flush=True)
    if subprocess.run(argv, **kwargs).returncode != 0:
        raise BuildError(f"{what} failed (command above)")


def ensure_diskimage_builder(paths: plan.BuildPaths) -> None:
    venv = Path(paths.dib_venv)
    if (venv / "bin" / "disk-image-create").exists():
        return
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)], "creating the diskimage-builder virtualenv")
    run([str(venv / "bin" / "pip"), "install", f"diskimage-builder=={plan.DISKIMAGE_BUILDER_VERSION}"],
        "installing diskimage-builder from PyPI")  # fmt: skip


def ensure_octavia_source(paths: plan.BuildPaths, cache_dir: Path, pip: Optional[list[str]] = None) -> None:
    """The pinned Octavia sdist from PyPI, checked against its sha256, extracted once."""
    source = Path(paths.octavia_src)
    if (source / "diskimage-create" / "diskimage-create.sh").exists():
        return
    sdist_dir = cache_dir / "sdist"
    sdist = sdist_dir / plan.OCTAVIA_SDIST
    if not sdist.exists():
        run([*(pip or [sys.executable, "-m", "pip"]), "download", "--no-deps", "--no-binary", ":all:",
             f"octavia=={plan.OCTAVIA_VERSION}", "-d", str(sdist_dir)], "downloading the Octavia sdist")  # fmt: skip
    digest = file_sha256(str(sdist))
    if digest != plan.OCTAVIA_SDIST_SHA256:
        sdist.unlink()
        raise BuildError(f"{sdist}: sha256 {digest}, expected {plan.OCTAVIA_SDIST_SHA256}; deleted, not used")
    source.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=source.parent) as scratch, tarfile.open(sdist) as archive:
        archive.extractall(scratch, filter="data")
        os.rename(Path(scratch) / f"octavia-{plan.OCTAVIA_VERSION}", source)
    if not (source / "elements" / "amphora-agent").is_dir():
        raise BuildError(f"{sdist} has no elements/amphora-agent: not the Octavia source distribution")


def write_image_manifest(options: plan.BuildOptions, image: str, version: str, built_by: str,
                         built_at: datetime.datetime) -> str:  # fmt: skip
    fields = plan.manifest_fields(
        options, version, os.path.basename(image), file_sha256(image), os.path.getsize(image), built_at, built_by
    )
    path = manifest_path_for(image)
    write_manifest(path, fields)
    return path


def print_next_steps(manifest: str, version: str) -> None:
    shown = os.path.relpath(manifest, ROOT) if manifest.startswith(f"{ROOT}/") else manifest
    image_name = Path(manifest).name[: -len(SUFFIX)] + ".qcow2"
    print(f"manifest: {manifest}")
    print("Roll it out: append one of these to amp_images in stacks/Pulumi.<env>.yaml, then pulumi up")
    print(f"    - {_yaml_flow({'manifest': shown})}")
    source = f"https://YOUR-ARTIFACT-STORE/{image_name}"
    print(f"    - {_yaml_flow({'version': version, 'source': source})}   (after uploading the image there)")


# Strings YAML reads as something else when unquoted: numbers (a version 2025.1), dates, booleans, null.
_NOT_A_STRING = re.compile(
    r"[-+]?[0-9._]*([eE][-+]?[0-9]+)?|[-+]?0[xXoO][0-9a-fA-F_]+|\d{4}-\d\d?-\d\d?.*"
    r"|(?i:y|n|yes|no|true|false|on|off|null|\.inf|\.nan)"
)


def _yaml_flow(record: dict[str, str]) -> str:
    """One amp_images entry as a YAML flow mapping; values quoted where YAML would misread them.

    (A JSON string is a valid YAML double-quoted scalar; the tool keeps to the standard library.)
    """

    def scalar(text: str) -> str:
        plain = re.fullmatch(r"[A-Za-z0-9_./+-]+", text) and not _NOT_A_STRING.fullmatch(text)
        return text if plain else json.dumps(text)

    return "{" + ", ".join(f"{name}: {scalar(value)}" for name, value in record.items()) + "}"


# --- commands -----------------------------------------------------------------------------------


def command_preflight(args, probe: Probe) -> int:
    options = options_from(args)
    paths = build_paths(args.cache_dir, args.output_dir, args.work_dir)
    errors = preflight(options, build_dirs(paths, args.cache_dir), probe)
    for error in errors:
        print(f"preflight: {error}", file=sys.stderr)
    if not errors:
        print("preflight: ok, this host can build the image")
    return 1 if errors else 0


def command_build(args, probe: Probe) -> int:
    options = options_from(args)
    paths = build_paths(args.cache_dir, args.output_dir, args.work_dir)
    now = datetime.datetime.now(datetime.timezone.utc)
    version = plan.image_version(options, now)
    argv, env = plan.build_command(options, paths, version, dict(os.environ))
    errors = preflight(options, build_dirs(paths, args.cache_dir), probe)
    if args.dry_run:
        for error in errors:
            print(f"preflight (would stop the build): {error}", file=sys.stderr)
        changed = {key: value for key, value in env.items() if os.environ.get(key) != value}
        print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in sorted(changed.items())))
        print(shlex.join(argv))
        return 0
    for error in errors:
        print(f"preflight: {error}", file=sys.stderr)
    if errors:
        return 1
    try:
        for directory in (paths.output_dir, paths.work_dir, paths.dib_cache):
            os.makedirs(directory, exist_ok=True)
        ensure_diskimage_builder(paths)
        ensure_octavia_source(paths, args.cache_dir, pip=[os.path.join(paths.dib_venv, "bin", "pip")])
        run(argv, "diskimage-create.sh", env=env)
    except BuildError as err:
        print(f"build: {err}", file=sys.stderr)
        return 1
    image = plan.image_file(paths.output_dir, version)
    manifest = write_image_manifest(options, image, version, "tools/amphora_image build", now)
    print_next_steps(manifest, version)
    return 0


def command_manifest(args, probe: Probe) -> int:
    options = options_from(args)
    image = str(args.from_existing)
    if not os.path.isfile(image):
        print(f"manifest: {image}: no such file", file=sys.stderr)
        return 1
    errors = plan.option_errors(options)
    if errors:
        print("\n".join(f"manifest: {error}" for error in errors), file=sys.stderr)
        return 1
    built_at = datetime.datetime.fromtimestamp(os.path.getmtime(image), datetime.timezone.utc)
    version = plan.image_version(options, built_at)
    manifest = write_image_manifest(options, image, version, "external (tools/amphora_image manifest)", built_at)
    print_next_steps(manifest, version)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m tools.amphora_image", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    for name, helptext in (("preflight", "check this host"), ("build", "build the image and its manifest")):
        sub = commands.add_parser(name, help=helptext)
        add_image_options(sub)
        sub.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="image and manifest (default %(default)s)")
        sub.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="downloads and caches (default %(default)s)")
        sub.add_argument("--work-dir", type=Path, help="build scratch space (default CACHE_DIR/work)")
        if name == "build":
            sub.add_argument("--dry-run", action="store_true", help="print the command and environment, run nothing")
    sub = commands.add_parser("manifest", help="write a manifest for an image built elsewhere")
    sub.add_argument("--from-existing", type=Path, required=True, metavar="FILE", help="the qcow2 image")
    add_image_options(sub)
    return top


COMMANDS = {"preflight": command_preflight, "build": command_build, "manifest": command_manifest}


def main(argv: Optional[list[str]] = None, probe: Optional[Probe] = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args, probe or Probe.real())
