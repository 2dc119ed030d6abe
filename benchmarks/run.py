#!/usr/bin/env python3
"""Side-by-side benchmark: `pulumi up` of this project vs a sequential openstacksdk script vs an
Ansible playbook (openstack.cloud), on the same Octavia foundation resource set, on the devcloud.

    .venv/bin/python benchmarks/run.py [--quick] [--runs R] [--sizes 3,10,30]

Writes BENCHMARKS.md. See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devcloud.devcloud import ensure_devcloud  # noqa: E402
from tests.conftest import make_test_image, project_env, StackFactory  # noqa: E402
from components.settings import decode_config, load_schema, parse_settings  # noqa: E402
from components.security_groups import GROUP_DESCRIPTIONS, GROUP_NAMES, HEALTH_MANAGER, rule_table  # noqa: E402
from components.quotas import quota_values  # noqa: E402
from components.image import IMAGE_NAME, image_properties  # noqa: E402
from components.compute import KEYPAIR_NAME  # noqa: E402
from components.health_manager import DEVICE_OWNER  # noqa: E402

ANSIBLE_VENV = Path.home() / ".cache/octavia-infra/bench-ansible-venv"
ANSIBLE_REQS = ROOT / "benchmarks/ansible/requirements.txt"
PLAYBOOK = ROOT / "benchmarks/ansible/octavia_foundation.yml"
OUT = ROOT / "BENCHMARKS.md"
# The services and their catalog endpoints (path part kept for the override URLs).
SERVICES = {"identity": (5000, "/v3"), "compute": (8774, "/v2.1"), "network": (9696, "/"),
            "image": (9292, "/"), "load-balancer": (9876, "/v2")}
# The endpoint overrides of the Terraform-based OpenStack provider are used as resource bases.
PULUMI_PATHS = {"identity": "/v3/", "compute": "/v2.1/", "network": "/v2.0/", "image": "/v2/", "load-balancer": "/v2.0/"}
TOOLS = ("pulumi", "sdk", "ansible")
STEPS = ("create", "preview", "rerun", "update", "destroy")
UPDATE_DNS = ["192.0.2.53"]  # the one change: the management subnet's DNS servers


# --- counting the API requests on the wire ------------------------------------------------------
# The devcloud's uwsgi runs with --disable-logging and only nova and octavia log their requests,
# so requests are counted by a TCP relay in front of every service: each tool is pointed at it
# (auth_url and endpoint overrides), and every HTTP request line that passes is counted.

REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/1\.[01]\r\n")


class CountingRelay:
    def __init__(self):
        self.counts = {name: 0 for name in SERVICES}
        self.ports = {}
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        for name, (port, _) in SERVICES.items():
            server = self.loop.run_until_complete(
                asyncio.start_server(lambda r, w, n=name, p=port: self._relay(r, w, n, p), "127.0.0.1", 0))
            self.ports[name] = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _relay(self, reader, writer, name, port):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return

        async def pipe(src, dst, count):
            tail = b""
            try:
                while data := await src.read(65536):
                    if count:
                        chunk = tail + data
                        self.counts[name] += len(REQUEST_LINE.findall(chunk)) - len(REQUEST_LINE.findall(tail))
                        tail = chunk[-200:]
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    dst.close()
                except Exception:
                    pass

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def url(self, name):
        return f"http://127.0.0.1:{self.ports[name]}{SERVICES[name][1]}"

    def total(self):
        return sum(self.counts.values())


# --- peak memory of a process tree --------------------------------------------------------------


def tree_rss_kib(root_pid: int) -> int:
    children, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            children.setdefault(int(fields["PPid"]), []).append(int(entry))
            rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
        except (OSError, ValueError, KeyError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measured(args, env, cwd, relay) -> dict:
    """Run a command; wall time, requests through the relay, peak RSS of its process tree."""
    before = relay.total()
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak, out = 0, []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    reader.join()
    text = out[0].decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{text[-4000:]}")
    time.sleep(0.2)  # let the relay count the last bytes
    return {"wall": wall, "requests": relay.total() - before, "rss_mib": peak / 1024, "output": text}


# --- the resource set -----------------------------------------------------------------------------


def stack_config(prefix: str, physnet: str, hosts: int, public_key: str, image: str, dns: list) -> dict:
    base = yaml.safe_load((ROOT / "stacks/Pulumi.local.yaml").read_text())["config"]
    base = {k.split(":", 1)[1]: v for k, v in base.items()}
    base.update(name_prefix=prefix, mgmt_physical_network=physnet, ssh_public_key=public_key,
                health_manager_hosts=[f"ctl{i}" for i in range(1, hosts + 1)], amp_images=[f"bench={image}"],
                mgmt_dns_servers=dns)
    return base


def spec_for(config: dict, project_dir: Path) -> dict:
    """The resources this project declares for the config, as plain data for the other two tools."""
    schema = load_schema()
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    settings = parse_settings(decode_config(raw, schema))
    prefix, net = settings.name_prefix, settings.network
    groups = {}
    for rule in rule_table(settings):
        groups.setdefault(rule.group, []).append({"protocol": rule.protocol, "port": rule.port, "remote_ip_prefix": str(net.cidr),
                                                  "description": f"{rule.key} from the management network"})
    current = settings.image.current
    return {
        "project": settings.service_project,
        "network": {"name": f"{prefix}{net.name}", "type": net.network_type, "physical_network": net.physical_network,
                    "description": "Octavia amphora management network"},
        "subnet": {"name": f"{prefix}{net.name}", "cidr": str(net.cidr), "enable_dhcp": net.enable_dhcp,
                   "gateway_ip": None if net.gateway_ip is None else str(net.gateway_ip), "dns_nameservers": [str(s) for s in net.dns_servers],
                   "allocation_pools": [{"start": str(p.start), "end": str(p.end)} for p in net.allocation_pools]},
        "security_groups": [{"key": g, "name": f"{prefix}{GROUP_NAMES[g]}", "description": GROUP_DESCRIPTIONS[g],
                             "rules": groups.get(g, [])} for g in GROUP_NAMES],
        "ports": [{"name": f"{prefix}octavia-health-manager-{h.name}-listen-port", "host": h.name,
                   "device_owner": DEVICE_OWNER, "security_group": HEALTH_MANAGER} for h in settings.health_managers],
        "flavor": {"name": f"{prefix}{settings.flavor.name}", "vcpus": settings.flavor.vcpus, "ram": settings.flavor.ram_mb,
                   "disk": settings.flavor.disk_gb, "extra_specs": dict(settings.flavor.extra_specs),
                   "description": "Octavia amphora"},
        "keypair": {"name": f"{prefix}{KEYPAIR_NAME}", "public_key": settings.access.ssh_public_key},
        "image": {"name": f"{prefix}{IMAGE_NAME}-{current.version}", "file": str(project_dir / current.source),
                  "tags": [settings.image.tag], "properties": image_properties(settings.image, current)},
        "octavia_flavors": [{"name": f"{prefix}amphora-{t.lower().replace('_', '-')}",
                             "description": f"Amphora load balancer, {t} topology",
                             "flavor_data": {"loadbalancer_topology": t, "amp_image_tag": settings.image.tag}}
                            for t in settings.topology.offered],
        "quotas": quota_values(settings),
    }


def resource_count(spec: dict) -> int:
    rules = sum(len(g["rules"]) for g in spec["security_groups"])
    return 2 + 2 + rules + len(spec["ports"]) + 2 + 1 + 1 + 2 * len(spec["octavia_flavors"]) + 3


# --- the three tools --------------------------------------------------------------------------------

CHANGE_WORDS = re.compile(r"(\d+) (?:to )?(create|update|delete|replace|created|updated|deleted|replaced)\b")


def pulumi_changes(text: str) -> int:
    summary = text.split("Resources:")[-1]
    return sum(int(n) for n, _ in CHANGE_WORDS.findall(summary))


def ansible_changes(text: str) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", text))


def sdk_changes(text: str) -> int:
    return json.loads(text.strip().splitlines()[-1])["changed"]


class Bench:
    def __init__(self, args):
        self.args = args
        self.tag = uuid.uuid4().hex[:4]
        self.tmp = Path(tempfile.mkdtemp(prefix="octavia-bench-"))
        self.relay = CountingRelay()
        devcloud_env = ensure_devcloud()
        self.clouds = self.tmp / "clouds.yaml"
        source = yaml.safe_load(Path(devcloud_env.get("OS_CLIENT_CONFIG_FILE", ROOT / ".devcloud/clouds.yaml")).read_text())
        cloud = source["clouds"]["devcloud-service"]
        cloud["auth"]["auth_url"] = self.relay.url("identity")
        for name in SERVICES:
            cloud[f"{name.replace('-', '_')}_endpoint_override"] = self.relay.url(name)
        self.clouds.write_text(yaml.safe_dump({"clouds": {"bench": cloud}}))
        self.env = project_env(**{**devcloud_env, "OS_CLIENT_CONFIG_FILE": str(self.clouds), "OS_CLOUD": "bench",
                                  "PULUMI_BACKEND_URL": f"file://{self.tmp / 'state'}",
                                  "PULUMI_CONFIG_PASSPHRASE": "bench-passphrase"})
        (self.tmp / "state").mkdir()
        self.factory = StackFactory(self.tmp, self.env)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.tmp / "key")], check=True)
        self.public_key = (self.tmp / "key.pub").read_text().strip()
        self.image = make_test_image(self.tmp / "amphora-test.qcow2")
        self.ansible_python = ensure_ansible_venv()

    def names(self, tool: str, size: int, run: int) -> tuple[str, str]:
        base = f"b{self.tag}-{tool[0]}{size}r{run}"
        return f"{base}-", f"phys-{base}"

    # pulumi
    def pulumi_setup(self, size, run, dns):
        prefix, physnet = self.names("pulumi", size, run)
        work = self.factory.project_copy(prefix.rstrip("-"))
        config = stack_config(prefix, physnet, size, self.public_key, str(self.image), dns)
        config = {f"octavia-infra:{k}": v for k, v in config.items()}
        config["openstack:endpointOverrides"] = {n: f"http://127.0.0.1:{self.relay.ports[n]}{PULUMI_PATHS[n]}" for n in SERVICES}
        stack = prefix.rstrip("-")
        subprocess.run(["pulumi", "stack", "init", stack], cwd=work, env=self.env, check=True, capture_output=True)
        path = work / "stacks" / f"Pulumi.{stack}.yaml"
        settings = yaml.safe_load(path.read_text()) if path.exists() else {}
        (settings or {}).setdefault("config", {})
        settings = settings or {"config": {}}
        settings["config"].update(config)
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        return work, stack, config

    def set_dns(self, work, stack, dns):
        path = work / "stacks" / f"Pulumi.{stack}.yaml"
        settings = yaml.safe_load(path.read_text())
        settings["config"]["octavia-infra:mgmt_dns_servers"] = dns
        path.write_text(yaml.safe_dump(settings, sort_keys=False))

    def run_pulumi(self, size, run) -> dict:
        work, stack, _ = self.pulumi_setup(size, run, [])
        p = ["pulumi", "--non-interactive"]
        res = {}
        try:
            res["create"] = self.step(p + ["up", "--yes", "--skip-preview", "-s", stack], work, pulumi_changes)
            res["preview"] = self.step(p + ["preview", "-s", stack], work, pulumi_changes)
            res["rerun"] = self.step(p + ["up", "--yes", "--skip-preview", "-s", stack], work, pulumi_changes)
            self.set_dns(work, stack, UPDATE_DNS)
            res["update"] = self.step(p + ["up", "--yes", "--skip-preview", "-s", stack], work, pulumi_changes)
            res["destroy"] = self.step(p + ["destroy", "--yes", "--skip-preview", "-s", stack], work, pulumi_changes)
        except Exception:
            subprocess.run(p + ["destroy", "--yes", "-s", stack], cwd=work, env=self.env, capture_output=True)
            raise
        return res

    def spec_file(self, tool, size, run, dns) -> Path:
        prefix, physnet = self.names(tool, size, run)
        spec = spec_for(stack_config(prefix, physnet, size, self.public_key, str(self.image), dns), ROOT)
        path = self.tmp / f"{prefix}{len(dns)}.json"
        path.write_text(json.dumps(spec))
        return path

    def run_sdk(self, size, run) -> dict:
        script = [sys.executable, str(ROOT / "benchmarks/sdk_script.py")]
        spec, spec2 = self.spec_file("sdk", size, run, []), self.spec_file("sdk", size, run, UPDATE_DNS)
        res = {}
        try:
            res["create"] = self.step(script + ["apply", "--spec", str(spec)], ROOT, sdk_changes)
            res["rerun"] = self.step(script + ["apply", "--spec", str(spec)], ROOT, sdk_changes)
            res["update"] = self.step(script + ["apply", "--spec", str(spec2)], ROOT, sdk_changes)
            res["destroy"] = self.step(script + ["destroy", "--spec", str(spec2)], ROOT, sdk_changes)
        except Exception:
            subprocess.run(script + ["destroy", "--spec", str(spec)], env=self.env, capture_output=True)
            raise
        return res

    def run_ansible(self, size, run) -> dict:
        venv_bin = self.ansible_python.parent
        env = {**self.env, "PATH": f"{venv_bin}:{self.env['PATH']}", "ANSIBLE_PYTHON_INTERPRETER": str(self.ansible_python),
               "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}
        spec, spec2 = self.spec_file("ansible", size, run, []), self.spec_file("ansible", size, run, UPDATE_DNS)
        play = lambda s, state: [str(venv_bin / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK),  # noqa: E731
                                 "-e", f"@{s}", "-e", f"state={state}"]
        res = {}
        try:
            res["create"] = self.step(play(spec, "present"), ROOT, ansible_changes, env)
            res["rerun"] = self.step(play(spec, "present"), ROOT, ansible_changes, env)
            res["update"] = self.step(play(spec2, "present"), ROOT, ansible_changes, env)
            res["destroy"] = self.step(play(spec2, "absent"), ROOT, ansible_changes, env)
        except Exception:
            subprocess.run(play(spec, "absent"), env=env, capture_output=True)
            raise
        return res

    def step(self, args, cwd, changes, env=None) -> dict:
        result = measured(args, env or self.env, cwd, self.relay)
        result["changes"] = changes(result.pop("output"))
        return result

    def profile(self) -> dict:
        """Engine start-up vs program: preview of an empty Python program vs the project's no-change preview."""
        empty = self.tmp / "empty"
        empty.mkdir()
        (empty / "Pulumi.yaml").write_text("name: bench-empty\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
                                           "    virtualenv: .venv\n")
        (empty / "__main__.py").write_text("")
        (empty / ".venv").symlink_to(ROOT / ".venv")
        subprocess.run(["pulumi", "stack", "init", "empty"], cwd=empty, env=self.env, check=True, capture_output=True)
        runs = [measured(["pulumi", "--non-interactive", "preview", "-s", "empty"], self.env, empty, self.relay)["wall"]
                for _ in range(3)]
        imports = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(ROOT / ".venv/bin/python"), "-c", "import pulumi, pulumi_openstack, components.foundation"],
                           cwd=ROOT, check=True)
            imports.append(time.perf_counter() - started)
        return {"empty_preview": runs, "imports": imports}


def ensure_ansible_venv() -> Path:
    python = ANSIBLE_VENV / "bin/python"
    marker = ANSIBLE_VENV / ".requirements"
    if not python.exists() or not marker.exists() or marker.read_text() != ANSIBLE_REQS.read_text():
        print(f"building {ANSIBLE_VENV} ({ANSIBLE_REQS})", flush=True)
        subprocess.run([sys.executable.replace(".venv/bin/python", "") or "python3", "-m", "venv", str(ANSIBLE_VENV)]
                       if False else ["python3", "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin/pip"), "install", "-q", "-r", str(ANSIBLE_REQS)], check=True)
        marker.write_text(ANSIBLE_REQS.read_text())
    return python


# --- the report -------------------------------------------------------------------------------------


def versions(bench: Bench) -> dict:
    def out(args):
        try:
            return subprocess.run(args, capture_output=True, text=True, env=bench.env).stdout.strip().splitlines()[0]
        except Exception as err:  # noqa: BLE001
            return f"? ({err})"
    ans = bench.ansible_python.parent
    collection = json.loads(next((ANSIBLE_VENV / "lib").glob("python*/site-packages/ansible_collections/openstack/cloud/MANIFEST.json"))
                            .read_text())["collection_info"]["version"]
    return {
        "pulumi CLI": out(["pulumi", "version"]),
        "pulumi SDK / pulumi-openstack": out([str(ROOT / ".venv/bin/python"), "-c",
                                              "import importlib.metadata as m; print(m.version('pulumi'), '/', m.version('pulumi-openstack'))"]),
        "openstacksdk (script)": out([sys.executable, "-c", "import openstack.version as v; print(v.__version__)"]),
        "ansible / ansible-core": out([str(ans / "python"), "-c",
                                       "import importlib.metadata as m; print(m.version('ansible'), '/', m.version('ansible-core'))"]),
        "openstack.cloud collection": collection,
        "openstacksdk (Ansible venv)": out([str(ans / "python"), "-c", "import importlib.metadata as m; print(m.version('openstacksdk'))"]),
        "Python": platform.python_version(),
    }


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]) // 1024
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem} MiB RAM, {platform.system()} {platform.release()}"


def fmt(values, unit, digits=1):
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}{unit}"
    return f"{med:.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def report(results, sizes, runs, bench, profile, started, failures) -> str:
    lines = [
        "# Benchmarks: this project vs openstacksdk script vs Ansible",
        "",
        f"Produced by `{' '.join(['benchmarks/run.py', *sys.argv[1:]])}` — do not edit by hand.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M UTC} (took {(time.time() - started.timestamp()) / 60:.1f} min)",
        f"- Machine: {machine()}; load average at the end {os.getloadavg()[0]:.2f} "
        "(the devcloud is shared: colleagues' tests run on it at the same time)",
        f"- Runs per cell: {runs}; sizes (health-manager ports = controller hosts): {', '.join(map(str, sizes))}",
        "",
        "| component | version |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in versions(bench).items()],
        "",
        "Cells: median (min–max) over the runs. Ratio = tool / Pulumi (median over median); above 1 means",
        "Pulumi is faster or lighter. Requests: HTTP requests counted on the wire by a relay in front",
        "of every devcloud service (keystone included). Memory: peak summed RSS of the tool's process tree",
        "(Pulumi: CLI, language host, Python program, OpenStack provider, PKI dynamic provider).",
        "",
        "Steps: `create` cold create; `preview` `pulumi preview` with no change (Pulumi only);",
        "`rerun` the same apply again with nothing changed (`pulumi up`, the script, the playbook);",
        "`update` one change (the management subnet's DNS servers); `destroy` everything but quotas.",
        "`changes` = what the tool *reports* as changed (Pulumi: resources in its summary;",
        "Ansible: `changed=` of the recap; script: its own count). A no-change run should report 0.",
        "",
    ]
    for size in sizes:
        lines += [f"## {size} controller hosts", ""]
        spec_resources = results.get(("resources", size))
        if spec_resources:
            lines += [f"Cloud resources in the set: {spec_resources} (+ Pulumi's PKI, local only, and component resources).", ""]
        lines += ["| step | metric | Pulumi | SDK script | Ansible | SDK / Pulumi | Ansible / Pulumi |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for step in STEPS:
            for metric, unit, digits in (("wall", " s", 1), ("requests", "", 0), ("rss_mib", " MiB", 0), ("changes", "", 0)):
                cells, medians = [], {}
                for tool in TOOLS:
                    values = [r[step][metric] for r in results.get((tool, size), []) if step in r]
                    cells.append(fmt(values, unit, digits))
                    medians[tool] = statistics.median(values) if values else None
                ratios = []
                for tool in ("sdk", "ansible"):
                    p, t = medians["pulumi"], medians[tool]
                    ratios.append(f"{t / p:.2f}" if p and t is not None and metric != "changes" else "—")
                if all(c == "—" for c in cells):
                    continue
                lines.append(f"| {step} | {metric.replace('rss_mib', 'peak RSS')} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        lines.append("")
    lines += goals(results, sizes)
    if profile:
        e, i = profile["empty_preview"], profile["imports"]
        p = [r["preview"]["wall"] for r in results.get(("pulumi", sizes[0]), []) if "preview" in r]
        lines += ["## Where Pulumi's time goes (no-change preview)", "",
                  "| part | median (min–max) |", "| --- | --- |",
                  f"| `pulumi preview` of an empty Python program (engine + language host start-up) | {fmt(e, ' s', 2)} |",
                  f"| `python -c 'import pulumi, pulumi_openstack, components.foundation'` (imports alone) | {fmt(i, ' s', 2)} |",
                  f"| `pulumi preview` of this project, {sizes[0]} hosts, no change | {fmt(p, ' s', 2)} |", "",
                  "The difference between the last row and the first is program evaluation plus the OpenStack",
                  "provider's start-up and its Check/Diff calls, plus the PKI dynamic provider.", ""]
    if failures:
        lines += ["## Failures", "", *[f"- {f}" for f in failures], ""]
    return "\n".join(lines) + "\n"


def goals(results, sizes) -> list:
    def med(tool, size, step):
        values = [r[step]["wall"] for r in results.get((tool, size), []) if step in r]
        return statistics.median(values) if values else None
    lines = ["## Goals", "", "| goal | measured | met |", "| --- | --- | --- |"]
    pv, ar = med("pulumi", sizes[0], "preview"), med("ansible", sizes[0], "rerun")
    if pv and ar:
        lines.append(f"| no-change preview ≥ 4× faster than the playbook's re-run ({sizes[0]} hosts) | "
                     f"{ar / pv:.2f}× | {'yes' if ar / pv >= 4 else 'no'} |")
    for i, size in enumerate(sizes):
        pc, sc = med("pulumi", size, "create"), med("sdk", size, "create")
        if pc and sc:
            goal = "within 2× of the script" if i == 0 else "faster than the script"
            met = pc <= 2 * sc if i == 0 else pc < sc
            lines.append(f"| cold create {goal} ({size} hosts) | Pulumi {pc:.1f} s vs script {sc:.1f} s "
                         f"({pc / sc:.2f}×) | {'yes' if met else 'no'} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run, 3 hosts only")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--sizes", default="3,10,30")
    parser.add_argument("--tools", default=",".join(TOOLS))
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    sizes = [3] if args.quick else [int(s) for s in args.sizes.split(",")]
    tools = args.tools.split(",")
    started = datetime.datetime.now(datetime.timezone.utc)
    bench = Bench(args)
    results, failures = {}, []
    for size in sizes:
        prefix, physnet = bench.names("x", size, 0)
        results[("resources", size)] = resource_count(spec_for(stack_config(prefix, physnet, size, bench.public_key, str(bench.image), []), ROOT))
        for run in range(1, runs + 1):
            for tool in tools:
                try:
                    res = getattr(bench, f"run_{tool}")(size, run)
                except Exception as err:  # noqa: BLE001 — reported in BENCHMARKS.md
                    failures.append(f"{tool}, {size} hosts, run {run}: {str(err)[-1500:]}")
                    print(failures[-1], flush=True)
                    continue
                results.setdefault((tool, size), []).append(res)
                print(f"{tool:8} size {size:2} run {run}: " + ", ".join(
                    f"{s} {r['wall']:.1f}s/{r['requests']}req/{r['rss_mib']:.0f}MiB/{r['changes']}ch" for s, r in res.items()),
                    flush=True)
    profile = bench.profile() if "pulumi" in tools else None
    OUT.write_text(report(results, sizes, runs, bench, profile, started, failures))
    print(f"wrote {OUT}")
    shutil.rmtree(bench.tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
