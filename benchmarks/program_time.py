#!/usr/bin/env python3
"""This project's own Python in a run: imports, settings parsing and the foundation's declaration,
timed without the engine (Pulumi mocks that answer at once), and where the declaration spends it.

    .venv/bin/python benchmarks/program_time.py CONFIG.json

CONFIG.json holds the project's config values (keys without the namespace). Prints one JSON object:
seconds per phase and the slowest functions of the project's own packages by cumulative time.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("components", "config", "render")
sys.path.insert(0, str(ROOT))

started = time.perf_counter()
import pulumi  # noqa: E402

sdk_imported = time.perf_counter()
import pulumi_openstack  # noqa: E402,F401
from components.foundation import OctaviaFoundation  # noqa: E402
from components.identity import look_up_identities  # noqa: E402
from config.settings import decode_config, parse_settings  # noqa: E402

ours_imported = time.perf_counter()


class InstantMocks(pulumi.runtime.Mocks):
    """Every resource is created as declared; the identity lookups (service project, Octavia user) answer at once."""

    def new_resource(self, args):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {"id": "service-project-id", "name": args.args.get("name")}


def main() -> int:
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(Path(sys.argv[1]).read_text()).items()}
    pulumi.runtime.set_mocks(InstantMocks(), project="octavia-infra", stack="bench", preview=True)
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    settings = parse_settings(decode_config(raw))
    t1 = time.perf_counter()

    identities = look_up_identities(settings)

    @pulumi.runtime.test
    def program():
        return pulumi.Output.all(*OctaviaFoundation("octavia", settings, identities).outputs.values())

    program()
    profile.disable()
    t2 = time.perf_counter()
    stats = pstats.Stats(profile).stats
    ours = sorted(((value[3], f"{Path(file).relative_to(ROOT)}:{name}") for (file, _, name), value in stats.items()
                   if file.startswith(tuple(str(ROOT / package) for package in OWN_PACKAGES))), reverse=True)
    print(json.dumps({
        "import_sdk_s": sdk_imported - started,
        "import_ours_s": ours_imported - sdk_imported,  # pulumi_openstack and the project's packages
        "settings_s": t1 - t0,
        "declare_s": t2 - t1,  # the project's code plus the SDK's registration of every resource
        "top": [{"function": where, "cumulative_s": round(seconds, 4)} for seconds, where in ours[:5]],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
