#!/usr/bin/env python3
"""Wall time of `pulumi up`, a no-change `pulumi preview` and `pulumi destroy` of the local stack.

    .venv/bin/python benchmarks/lifecycle_times.py [--runs 3]

Each run deploys stacks/Pulumi.local.yaml to the devcloud as a fresh stack (the tests' stack
factory: a private project copy and file backend, a unique name prefix and physical network, so
the user's own `local` stack and other stacks on the devcloud are left alone), times `up`, then
`preview` (which must report no changes), then `destroy`, through the real engine (Automation
API, which runs bin/pulumi). Prints a Markdown table (median, min, max over the runs) and writes
benchmarks/results/lifecycle.md. Needs `make setup` and the devcloud (it starts it if stopped).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devcloud.devcloud import ensure_devcloud  # noqa: E402
from testbed.stacks import stack_factory  # noqa: E402
from testbed.live_cloud import StepRecorder, engine  # noqa: E402

RESULTS = ROOT / "benchmarks/results/lifecycle.md"
MEASURES = ("up", "preview (no change)", "destroy")


def timed(operation, *args, **kwargs) -> tuple[float, object]:
    started = time.monotonic()
    result = engine(operation, *args, **kwargs)
    return time.monotonic() - started, result


def one_run(factory) -> dict[str, float]:
    stack = factory.create("local")
    try:
        up, result = timed(stack.up)
        assert result.summary.result == "succeeded"
        created = result.summary.resource_changes.get("create", 0)
        recorder = StepRecorder()
        preview, _ = timed(stack.preview, on_event=recorder)
        assert recorder.steps == set(), f"preview after up is not empty: {sorted(recorder.steps)}"
        destroy, _ = timed(stack.destroy)
    finally:
        factory.cleanup()  # destroys whatever a failed run left (a no-op after destroy)
        factory.stacks.clear()
    return {**dict(zip(MEASURES, (up, preview, destroy))), "resources": created}


def table(runs: list[dict[str, float]], measures=MEASURES, label=lambda measure: f"`{measure}`") -> str:
    """Median, min and max of each measure over the runs, as a Markdown table."""
    rows = ["| step | median | min | max |", "| --- | --- | --- | --- |"]
    for measure in measures:
        values = [run[measure] for run in runs]
        rows.append(f"| {label(measure)} | {statistics.median(values):.1f} s | {min(values):.1f} s | {max(values):.1f} s |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    devcloud_env = ensure_devcloud()
    runs = []
    with tempfile.TemporaryDirectory(prefix="lifecycle-bench-") as tmp:
        for number in range(1, args.runs + 1):
            run_dir = Path(tmp) / f"run{number}"
            run_dir.mkdir()
            factory = stack_factory(run_dir, devcloud_env)
            runs.append(one_run(factory))
            print(f"run {number}: " + ", ".join(f"{m} {runs[-1][m]:.1f} s" for m in MEASURES), flush=True)
    write_results(RESULTS, "Lifecycle of the local stack", table(runs),
                  f"{args.runs} runs, each a fresh stack of stacks/Pulumi.local.yaml (EC keys) on the devcloud "
                  f"({runs[0]['resources']} resources created by `up`, components and providers included).",
                  "`.venv/bin/python benchmarks/lifecycle_times.py`")
    return 0


def write_results(path: Path, title: str, result: str, what: str, command: str) -> None:
    """The result with the machine, time and load it was measured at; printed and written to path."""
    header = (
        f"# {title}\n\n"
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} "
        f"at the end; {what}\n\nProduced by {command}.\n\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + result + "\n")
    print(result)


if __name__ == "__main__":
    sys.exit(main())
