#!/usr/bin/env python3
"""Where a no-change `pulumi preview` of this project spends its time (issue 18): the engine's floor,
and each part of ours on top of it, measured as differences between no-change previews of programs
that add one part at a time, on the devcloud, with the file backend.

    .venv/bin/python benchmarks/preview_profile.py [--runs 5] [--hosts 3]

Programs (each created once with `pulumi up`, then previewed `--runs` times with nothing to change):

- empty:     an empty Python program: CLI, language host, Python start-up, the SDK's import (the floor);
- import:    `import pulumi_openstack` and the project's modules (the program's imports), nothing declared;
- invoke:    the OpenStack plugin started and configured, and one invoke (the service project lookup);
- dynamic:   one PKI dynamic resource (RandomSecret): the dynamic provider's process, its import of
             components.pki_provider (and `cryptography`) and the provider's unpickling;
- program:   this project's own program on a benchmark stack (`--hosts` health-manager ports).

Also: `pulumi version` (the CLI alone), the program's Python without the engine
(benchmarks/program_time.py), and the program's preview phase by phase from the engine's own log
(run.timeline). Prints Markdown tables; medians (min–max) of seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devcloud.devcloud import ensure_devcloud  # noqa: E402
from testbed.stacks import StackFactory, project_env, python_project  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import run as bench  # noqa: E402

# What __main__.py imports (the program's modules), without running it.
IMPORTS = """\
import pulumi
import pulumi_openstack
from components.foundation import OctaviaFoundation
from components.identity import look_up_identities
from components.network import read_subnet
from config.settings import decode_config, parse_settings
"""
PROGRAMS = {
    "empty": "",
    "import": IMPORTS,
    "invoke": "import pulumi_openstack as openstack\n"
              "openstack.identity.get_project(name='service', domain_id='default')\n",
    "dynamic": "from components.pki_provider import RandomSecret\nRandomSecret('secret', 32)\n",
}


def timed(args, cwd, env) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) of the whole process tree: the engine reaps its
    plugins and language host, so their time counts in its children's, and so in ours. CPU time
    is the steadier figure on a busy machine."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fmt(values) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def cells(runs) -> str:
    """wall | CPU, medians (min–max)."""
    return f"{fmt([w for w, _ in runs])} | {fmt([c for _, c in runs])}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="octavia-preview-profile-"))
    env = project_env(**{**ensure_devcloud(), "OS_CLOUD": "devcloud-service",
                         "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "profile"})
    (tmp / "state").mkdir()
    results, stacks = {"pulumi version": [timed(["pulumi", "version"], ROOT, env) for _ in range(args.runs)]}, []
    try:
        for name, program in PROGRAMS.items():
            work = python_project(tmp / name, f"profile-{name}", program)
            for package in ("components", "config", "render"):
                (work / package).symlink_to(ROOT / package)
            subprocess.run(["pulumi", "stack", "init", name], cwd=work, env=env, check=True, capture_output=True)
            stacks.append((work, name))
            timed(["pulumi", "--non-interactive", "up", "--yes", "--skip-preview", "-s", name], work, env)
            results[name] = [timed(["pulumi", "--non-interactive", "preview", "-s", name], work, env)
                             for _ in range(args.runs)]
        # The project's own program on a benchmark stack.
        tag = f"prof{int(time.time()) % 100000}"
        work = StackFactory(tmp, env).project_copy(tag)
        subprocess.run(["pulumi", "stack", "init", tag], cwd=work, env=env, check=True, capture_output=True)
        stacks.append((work, tag))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "key")], check=True)
        image = bench.make_test_image(tmp / "amphora-test.qcow2")
        config = bench.stack_config(f"{tag}-", f"phys-{tag}", args.hosts, (tmp / "key.pub").read_text().strip(),
                                    str(image), [])
        (work / "stacks" / f"Pulumi.{tag}.yaml").write_text(
            yaml.safe_dump({"config": {f"octavia-infra:{k}": v for k, v in config.items()}}))
        timed(["pulumi", "--non-interactive", "up", "--yes", "--skip-preview", "-s", tag], work, env)
        results["program"] = [timed(["pulumi", "--non-interactive", "preview", "-s", tag], work, env)
                              for _ in range(args.runs)]
        phases = [bench.timeline(work, env, tag) for _ in range(args.runs)]
        config_file = tmp / "program.json"
        config_file.write_text(json.dumps(config))
        python = [json.loads(subprocess.run([str(ROOT / ".venv/bin/python"), str(ROOT / "benchmarks/program_time.py"),
                                             str(config_file)], cwd=ROOT, check=True, capture_output=True,
                                            text=True).stdout) for _ in range(args.runs)]
    finally:
        for work, name in reversed(stacks):
            subprocess.run(["pulumi", "--non-interactive", "destroy", "--yes", "--skip-preview", "-s", name],
                           cwd=work, env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    wall = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}

    def share(name):
        return f"+{wall[name] - wall['empty']:.2f} s | +{cpu[name] - cpu['empty']:.2f} s"

    print(f"{args.runs} runs each, load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("| part | wall | CPU | wall over the floor | CPU over the floor |\n| --- | --- | --- | --- | --- |")
    print(f"| `pulumi version` (CLI start) | {cells(results['pulumi version'])} | | |")
    print(f"| preview, empty program (engine floor) | {cells(results['empty'])} | | |")
    for name, label in (("import", "the program's imports, nothing declared"),
                        ("invoke", "OpenStack plugin start + configure + one invoke"),
                        ("dynamic", "one PKI dynamic resource (provider process, import, unpickle)"),
                        ("program", f"this project, {args.hosts} hosts, no change")):
        print(f"| preview, {label} | {cells(results[name])} | {share(name)} |")
    for key, label in (("import_sdk_s", "import pulumi"), ("import_ours_s", "import pulumi_openstack + components"),
                       ("settings_s", "settings"), ("declare_s", "declaration (under mocks)")):
        print(f"| program's Python without the engine: {label} | {fmt([p[key] for p in python])} | | | |")
    print(f"\nOne no-change preview of this project ({args.hosts} hosts), phase by phase from the engine's log "
          "(`-v=9`, which slows it a little):\n\n| phase | seconds |\n| --- | --- |")
    for index, (label, _, _) in enumerate(bench.TIMELINE):
        print(f"| {label} | {fmt([run[index] for run in phases])} |")
    print(f"| whole preview | {fmt([sum(run) for run in phases])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
