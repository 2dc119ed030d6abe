#!/usr/bin/env python3
"""Octavia's worker on this foundation: load balancer create to ACTIVE, and the objects under it.

    .venv/bin/python benchmarks/loadbalancer_times.py [--runs 3]

Deploys stacks/Pulumi.local.yaml to the devcloud as a fresh stack (the tests' stack factory),
points the devcloud's Octavia at its outputs (`devcloud.py apply-stack`), then, as a tenant
project, per run: creates an ACTIVE_STANDBY and a SINGLE load balancer with the stack's Octavia
flavors and times each to ACTIVE, then a listener, a pool and a member, then a cascade delete
until the load balancer is gone. Amphorae are real Nova servers on the fake virt driver (two
compute hosts), so the figures are Octavia's, Nova's and Neutron's work without a hypervisor.
Prints a Markdown table (median, min, max) and writes benchmarks/results/loadbalancer.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.lifecycle_times import table, write_results  # noqa: E402
from devcloud import devcloud as dc  # noqa: E402
from testbed.stacks import stack_factory  # noqa: E402
from testbed.live_cloud import connect, engine, outputs  # noqa: E402
from testbed.octavia_support import Tenant, apply_stack, wait_active, wait_gone  # noqa: E402

RESULTS = ROOT / "benchmarks/results/loadbalancer.md"
TOPOLOGIES = ("ACTIVE_STANDBY", "SINGLE")
MEASURES = (*(f"{t} create" for t in TOPOLOGIES), "listener", "pool", "member", "cascade delete")


def one_run(tenant: Tenant, flavor_ids: dict, number: int) -> dict[str, float]:
    lbs, run, made = tenant.conn.load_balancer, {}, {}

    def step(measure: str, create, until_active) -> object:
        started = time.monotonic()
        obj = create()
        until_active(obj)
        run[measure] = time.monotonic() - started
        return obj

    for topology in TOPOLOGIES:
        made[topology] = step(
            f"{topology} create",
            lambda topology=topology: lbs.create_load_balancer(
                name=f"{tenant.name}-{number}-{topology.lower()}", vip_subnet_id=tenant.subnet.id,
                flavor_id=flavor_ids[topology]),
            lambda lb: wait_active(lambda: lbs.get_load_balancer(lb.id), "load balancer"))
    lb_id = made["ACTIVE_STANDBY"].id
    lb_active = lambda _: wait_active(lambda: lbs.get_load_balancer(lb_id), "load balancer")  # noqa: E731
    listener = step("listener", lambda: lbs.create_listener(loadbalancer_id=lb_id, protocol="HTTP", protocol_port=80),
                    lb_active)
    pool = step("pool", lambda: lbs.create_pool(listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"),
                lb_active)
    step("member", lambda: lbs.create_member(pool.id, address="10.77.0.20", protocol_port=8080,
                                             subnet_id=tenant.subnet.id), lb_active)
    step("cascade delete", lambda: [lbs.delete_load_balancer(lb.id, cascade=True) for lb in made.values()],
         lambda _: [wait_gone(lambda lb=lb: lbs.find_load_balancer(lb.id), "load balancer") for lb in made.values()])
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    devcloud_env = dc.ensure_devcloud()
    runs = []
    with tempfile.TemporaryDirectory(prefix="loadbalancer-bench-") as tmp:
        factory = stack_factory(Path(tmp), devcloud_env)
        admin = connect(devcloud_env)
        tenant = None
        try:
            stack = factory.create("local")
            assert engine(stack.up).summary.result == "succeeded"
            flavor_ids = outputs(stack.outputs())["octavia_flavor_ids"]
            apply_stack(stack)
            tenant = Tenant(admin, f"{dc.KEYSTONE_URL}/v3")
            for number in range(1, args.runs + 1):
                runs.append(one_run(tenant, flavor_ids, number))
                print(f"run {number}: " + ", ".join(f"{m} {runs[-1][m]:.1f} s" for m in MEASURES), flush=True)
        finally:
            if tenant:
                tenant.delete()
            admin.close()
            factory.cleanup()
    write_results(RESULTS, "Load balancers built by Octavia's worker on the foundation",
                  table(runs, MEASURES, label=str),
                  f"{args.runs} runs on one stack of stacks/Pulumi.local.yaml, as a tenant project. Each step until "
                  "the load balancer is ACTIVE again (gone, for the delete).",
                  "`.venv/bin/python benchmarks/loadbalancer_times.py` (a step of `make bench`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
