#!/usr/bin/env python3
"""Benchmark of the devcloud: cold start, warm start and memory.

    python3 benchmarks/devcloud_start.py [--purge-apt] [--skip-cold]

Cold: `reset`, the cached services' venv deleted and pip's cache bypassed, then `start` (venv
build, database initialisation, catalogue). With --purge-apt the Debian packages are purged
first too (apt-get purge, which may pull in other packages to satisfy dependencies: use it on a
throwaway machine), so the cold start also installs them, as on a clean CI machine.
Warm: `stop` then `start` (stopped -> every API answering an authenticated request).
Memory: proportional set size (shared pages counted once) of every service, processes and their
children, after the warm start and again after the smoke tests (tests/devcloud/test_smoke.py).

Destructive for the devcloud's data: it wipes .devcloud/ (not its logs), as `reset` does.
Prints a table and writes benchmarks/results/devcloud.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devcloud import devcloud as dc  # noqa: E402

TARGETS = {"cold start": 480, "warm start": 90, "memory": 3 * 1024}  # seconds, seconds, MiB
RESULTS = ROOT / "benchmarks/results/devcloud.md"
SERVICES = dc.SERVICE_NAMES


def devcloud(command: str, env: dict | None = None) -> float:
    """Run a devcloud command; return its wall time in seconds."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(dc.HERE / "devcloud.py"), command], env=env)
    if result.returncode != 0:
        sys.exit(f"devcloud {command} failed ({result.returncode})")
    return time.monotonic() - started


def memory() -> dict:
    return {name: dc.memory_mib(dc.running_pid(name)) for name in SERVICES}


def smoke_tests() -> bool:
    python = ROOT / ".venv/bin/python"
    if not python.exists():
        return False
    subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:warnings", "tests/devcloud/test_smoke.py"],
                   cwd=ROOT, check=True)
    return True


def purge_apt() -> None:
    packages = sorted(set(dc.APT_PACKAGES.values()) - {"gcc", "iproute2"})  # the compiler and `ip` stay: other work needs them
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "purge", "-y", "-q", *packages], env=env, check=True)
    subprocess.run(["apt-get", "clean"], check=True)  # the cold start downloads them again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--purge-apt", action="store_true", help="remove the Debian packages before the cold start")
    parser.add_argument("--skip-cold", action="store_true", help="measure warm start and memory only")
    args = parser.parse_args()

    rows = []  # (measure, value, target, ok)
    if not args.skip_cold:
        devcloud("reset")
        shutil.rmtree(dc.venv_dir(), ignore_errors=True)
        if args.purge_apt:
            purge_apt()
        cold = devcloud("start", env={**os.environ, "PIP_NO_CACHE_DIR": "1"})
        label = "cold start (apt + venv + db init)" if args.purge_apt else "cold start (venv + db init)"
        rows.append((label, f"{cold:.0f} s", f"< {TARGETS['cold start']} s", cold < TARGETS["cold start"]))
    devcloud("start")  # a no-op when up: the warm start below starts from a running devcloud
    devcloud("stop")
    warm = devcloud("start")
    rows.append(("warm start (stopped -> up)", f"{warm:.0f} s", f"< {TARGETS['warm start']} s", warm < TARGETS["warm start"]))
    mem = memory()
    rows.append(("memory after start, total PSS", f"{sum(mem.values()):.0f} MiB", f"< {TARGETS['memory']:.0f} MiB",
                 sum(mem.values()) < TARGETS["memory"]))
    if smoke_tests():
        after = memory()
        rows.append(("memory after smoke tests, total PSS", f"{sum(after.values()):.0f} MiB", f"< {TARGETS['memory']:.0f} MiB",
                     sum(after.values()) < TARGETS["memory"]))
        mem = after
    detail = [(f"  {name}", f"{rss:.0f} MiB", "", None) for name, rss in mem.items()]

    table = ["| measure | value | target | met |", "| --- | --- | --- | --- |"]
    table += [f"| {m} | {v} | {t} | {'' if ok is None else ('yes' if ok else 'NO')} |" for m, v, t, ok in rows + detail]
    header = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}: "
              f"{os.cpu_count()} cores, Python {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.1f} at the end.")
    report = "\n".join(["# devcloud start benchmark", "", header, "",
                        "Produced by `python3 benchmarks/devcloud_start.py"
                        + (" --purge-apt" if args.purge_apt else "") + "`.", "", *table, ""])
    print("\n" + report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
