#!/usr/bin/env python3
"""Side-by-side benchmark: `pulumi up` of this project vs a sequential openstacksdk script vs an
Ansible playbook (openstack.cloud) vs OpenTofu with terraform-provider-openstack, on the same
Octavia foundation resource set, on the devcloud.

    .venv/bin/python benchmarks/run.py [--quick] [--runs R] [--sizes 3,10,30]

Writes BENCHMARKS.md. See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
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
from devcloud.devcloud import APIS, LOGS, ensure_devcloud  # noqa: E402
from testbed.stacks import make_test_image, project_env, python_project, StackFactory  # noqa: E402
from config.settings import decode_config, load_schema, parse_settings  # noqa: E402
from components.security_groups import GROUP_DESCRIPTIONS, rule_table  # noqa: E402
from components.quotas import quota_values  # noqa: E402
from components.image import image_properties  # noqa: E402
from config.names import HEALTH_MANAGER, SECURITY_GROUP_NAMES, names  # noqa: E402
from components.health_manager import DEVICE_OWNER  # noqa: E402
from benchmarks import tofu_config  # noqa: E402

ANSIBLE_VENV = Path.home() / ".cache/octavia-infra/bench-ansible-venv"
ANSIBLE_REQS = ROOT / "benchmarks/ansible/requirements.txt"
PLAYBOOK = ROOT / "benchmarks/ansible/octavia_foundation.yml"
TOFU_BUILD = ROOT / "tools/tofu/build.sh"
OUT = ROOT / "BENCHMARKS.md"
OUTPUT = ROOT / "build/bench"  # every step's output and the requests it made, for a closer look
TOOLS = ("pulumi", "sdk", "ansible", "tofu")
# preview: no-change preview without refresh (`pulumi preview`, `tofu plan -refresh=false`);
# refresh-preview: with refresh (`pulumi preview --refresh`, `tofu plan`, each tool's default).
STEPS = ("create", "preview", "refresh-preview", "rerun", "update", "destroy")
UPDATE_DNS = ["192.0.2.53"]  # the one change: the management subnet's DNS servers


# --- counting the API requests at the services ----------------------------------------------------
# Every devcloud API logs one line per request ("START METHOD URI STATUS Nms") to LOGS/<service>-requests.log.


class RequestLogs:
    def __init__(self, files: list):
        self.files = files

    @classmethod
    def of_devcloud(cls) -> "RequestLogs":
        files = sorted(LOGS.glob("*-requests.log"))
        if len(files) != len(APIS):
            raise SystemExit(f"the devcloud's request logs are missing in {LOGS}: it was started by an older "
                             "devcloud.py; restart it (make devcloud-stop devcloud)")
        return cls(files)

    def mark(self) -> dict:
        return {f: f.stat().st_size for f in self.files}

    def since(self, mark: dict) -> dict:
        """Requests logged since mark: their number, the services' summed time serving them, the lines."""
        lines = []
        for f, offset in mark.items():
            with f.open("rb") as log:
                log.seek(offset)
                service = f.name.removesuffix("-requests.log")
                lines += [f"{service} {line}" for line in log.read().decode(errors="replace").splitlines()]
        msecs = sum(int(line.rsplit(" ", 1)[-1].removesuffix("ms")) for line in lines)
        return {"requests": len(lines), "server_s": msecs / 1000, "calls": lines}


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


def measured(args, env, cwd, logs: RequestLogs) -> dict:
    """Run a command: wall time, the requests the services logged, peak RSS of its process tree."""
    mark = logs.mark()
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
    return {"wall": wall, **logs.since(mark), "rss_mib": peak / 1024, "output": out[0].decode(errors="replace"),
            "returncode": proc.returncode}


# --- the resource set -----------------------------------------------------------------------------


def stack_config(prefix: str, physnet: str, hosts: int, public_key: str, image: str, dns: list) -> dict:
    base = yaml.safe_load((ROOT / "stacks/Pulumi.local.yaml").read_text())["config"]
    base = {k.split(":", 1)[1]: v for k, v in base.items()}
    base.update(name_prefix=prefix, mgmt_physical_network=physnet, ssh_public_key=public_key,
                health_managers=[{"host": f"ctl{i}"} for i in range(1, hosts + 1)],
                amp_images=[{"version": "bench", "source": image}], mgmt_dns_servers=dns,
                # A tag of its own: the devcloud's service project holds other stacks' tagged images,
                # and the program refuses a tag it shares with images it did not make.
                amp_image_tag=f"{prefix}amphora")
    return base


def spec_for(config: dict, project_dir: Path) -> dict:
    """The resources this project declares for the config, as plain data for the other two tools."""
    schema = load_schema()
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    settings = parse_settings(decode_config(raw, schema))
    named, net = names(settings), settings.network
    groups = {}
    for rule in rule_table(settings):
        groups.setdefault(rule.group, []).append({"protocol": rule.protocol, "port": rule.port, "remote_ip_prefix": rule.source or str(net.cidr),
                                                  "description": rule.description})
    current = settings.image.current
    return {
        "project": settings.service_project,
        "network": {"name": named.network, "type": net.network_type, "physical_network": net.physical_network,
                    "description": "Octavia amphora management network"},
        "subnet": {"name": named.network, "cidr": str(net.cidr), "enable_dhcp": net.enable_dhcp,
                   "gateway_ip": None if net.gateway_ip is None else str(net.gateway_ip), "dns_nameservers": [str(s) for s in net.dns_servers],
                   "allocation_pools": [{"start": str(p.start), "end": str(p.end)} for p in net.allocation_pools]},
        "security_groups": [{"key": g, "name": named.security_group(g), "description": GROUP_DESCRIPTIONS[g],
                             "rules": groups.get(g, [])} for g in SECURITY_GROUP_NAMES],
        "ports": [{"name": named.health_manager_port(h.name), "host": h.name,
                   "device_owner": DEVICE_OWNER, "security_group": HEALTH_MANAGER} for h in settings.health_managers],
        "flavor": {"name": named.flavor, "vcpus": settings.flavor.vcpus, "ram": settings.flavor.ram_mb,
                   "disk": settings.flavor.disk_gb, "extra_specs": dict(settings.flavor.extra_specs),
                   "description": "Octavia amphora"},
        # Owned by Octavia's service user, as the program creates it (Nova keypairs belong to a user).
        "keypair": {"name": named.keypair, "public_key": settings.access.ssh_public_key,
                    "user": settings.octavia_service_user, "user_domain": settings.service_project_domain},
        "image": {"name": named.image(current.version), "file": str(project_dir / current.source),
                  "tags": [settings.image.tag], "properties": image_properties(settings.image, current)},
        "octavia_flavors": [{"name": named.octavia_flavor(t),
                             "description": f"Amphora load balancer, {t} topology",
                             "flavor_data": {"loadbalancer_topology": t, "amp_image_tag": settings.image.tag}}
                            for t in settings.topology.offered],
        "quotas": quota_values(settings),
    }


def resource_count(spec: dict) -> int:
    """The cloud objects in the set: what each tool creates (Pulumi adds its local PKI)."""
    return (2  # network and subnet
            + len(spec["security_groups"]) + sum(len(g["rules"]) for g in spec["security_groups"])
            + len(spec["ports"])
            + 2 + 1 + 1  # Nova flavor and its access, keypair, image
            + 2 * len(spec["octavia_flavors"])  # flavor profile and flavor
            + len(spec["quotas"]))  # one quota set per service (Nova, Neutron)


# --- the three tools --------------------------------------------------------------------------------

# What each tool reports as changed, one item per change (Pulumi: resources; Ansible: tasks, as its
# recap counts them; the script: the objects it wrote).
PULUMI_CHANGED = re.compile(r"^\s*[+~-]+\s+(\S+)\s+(\S+)\s+(?:created|updated|deleted|replaced)\b", re.M)
ANSIBLE_TASK = re.compile(r"^TASK \[(.+?)\] \*+$", re.M)
# OpenTofu (-no-color): what apply/destroy finished, and what a plan would do.
TOFU_DONE = re.compile(r"^(\S+): (?:Creation|Modifications|Destruction) complete after\b", re.M)
TOFU_PLANNED = re.compile(r"^\s*# (\S+) (?:will be|must be)\b", re.M)


def pulumi_changed(text: str) -> list:
    return [f"{kind.rsplit(':', 1)[-1]} {name}" for kind, name in PULUMI_CHANGED.findall(text) if kind != "pulumi:pulumi:Stack"]


def ansible_changed(text: str) -> list:
    tasks = ANSIBLE_TASK.split(text)[1:]  # name, output, name, output, ...
    return [name for name, output in zip(tasks[::2], tasks[1::2]) if re.search(r"^changed: ", output, re.M)]


def sdk_changed(text: str) -> list:
    return json.loads(text.strip().splitlines()[-1])["changed"]


def tofu_changed(text: str) -> list:
    """apply and destroy: what they finished (their output shows their plan first); plan: what it would do."""
    return TOFU_DONE.findall(text) or TOFU_PLANNED.findall(text)


class Bench:
    def __init__(self):
        self.tag = uuid.uuid4().hex[:4]
        self.tmp = Path(tempfile.mkdtemp(prefix="octavia-bench-"))
        self.env = project_env(**{**ensure_devcloud(), "OS_CLOUD": "devcloud-service",
                                  "PULUMI_BACKEND_URL": f"file://{self.tmp / 'state'}",
                                  "PULUMI_CONFIG_PASSPHRASE": "bench-passphrase"})
        self.logs = RequestLogs.of_devcloud()
        (self.tmp / "state").mkdir()
        shutil.rmtree(OUTPUT, ignore_errors=True)
        OUTPUT.mkdir(parents=True)
        self.factory = StackFactory(self.tmp, self.env)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.tmp / "key")], check=True)
        self.public_key = (self.tmp / "key.pub").read_text().strip()
        self.image = make_test_image(self.tmp / "amphora-test.qcow2")
        self.ansible_python = ensure_ansible_venv()
        self.tofu = None  # bin/tofu, built on first use (tools/tofu/build.sh)
        self.timelines = {}  # size: a no-change preview phase by phase, once per run (timeline())

    def names(self, tool: str, size: int, run: int) -> tuple[str, str]:
        base = f"b{self.tag}-{tool[0]}{size}r{run}"
        return f"{base}-", f"phys-{base}"

    def config(self, tool: str, size: int, run: int, dns: list) -> dict:
        prefix, physnet = self.names(tool, size, run)
        return stack_config(prefix, physnet, size, self.public_key, str(self.image), dns)

    def run(self, tool: str, size: int, run: int) -> dict:
        """Every step of the tool's plan, measured; on a failure, what was created is destroyed."""
        plan, cwd, env, changed, cleanup = getattr(self, f"{tool}_plan")(size, run)
        results = {}
        try:
            for step, args, *prepare in plan:
                for action in prepare:
                    action()
                result = measured(args, env, cwd, self.logs)
                output, name = result.pop("output"), OUTPUT / f"{tool}-{size}-{run}-{step}"
                name.with_suffix(".log").write_text(output)
                name.with_suffix(".requests").write_text("\n".join(result.pop("calls")) + "\n")
                if result.pop("returncode"):
                    raise RuntimeError(f"{step} failed, see {name.with_suffix('.log')}:\n{output[-1500:]}")
                result["changed"] = changed(output)
                results[step] = result
        except Exception:
            subprocess.run(cleanup, cwd=cwd, env=env, capture_output=True)
            raise
        return results

    def pulumi_plan(self, size, run):
        prefix, _ = self.names("pulumi", size, run)
        stack = prefix.rstrip("-")
        work = self.factory.project_copy(stack)
        subprocess.run(["pulumi", "stack", "init", stack], cwd=work, env=self.env, check=True, capture_output=True)
        stack_file = work / "stacks" / f"Pulumi.{stack}.yaml"
        stack_file.write_text(yaml.safe_dump({"config": {f"octavia-infra:{k}": v for k, v in
                                                         self.config("pulumi", size, run, []).items()}}))

        def change_dns():
            settings = yaml.safe_load(stack_file.read_text())
            settings["config"]["octavia-infra:mgmt_dns_servers"] = UPDATE_DNS
            stack_file.write_text(yaml.safe_dump(settings))

        def record_timeline():
            self.timelines.setdefault(size, []).append(timeline(work, self.env, stack))

        pulumi = ["pulumi", "--non-interactive", "-s", stack]
        up = pulumi + ["up", "--yes", "--skip-preview"]
        plan = [("create", up), ("preview", pulumi + ["preview"]), ("refresh-preview", pulumi + ["preview", "--refresh"]),
                ("rerun", up, record_timeline), ("update", up, change_dns),
                ("destroy", pulumi + ["destroy", "--yes", "--skip-preview"])]
        return plan, work, self.env, pulumi_changed, pulumi + ["destroy", "--yes"]

    def spec_files(self, tool, size, run) -> tuple[str, str]:
        """The resource set as data, before and after the one change."""
        paths = []
        for dns in ([], UPDATE_DNS):
            path = self.tmp / f"{self.names(tool, size, run)[0]}{len(dns)}.json"
            path.write_text(json.dumps(spec_for(self.config(tool, size, run, dns), ROOT)))
            paths.append(str(path))
        return tuple(paths)

    def sdk_plan(self, size, run):
        script = [sys.executable, str(ROOT / "benchmarks/sdk_script.py")]
        spec, changed_spec = self.spec_files("sdk", size, run)
        plan = [("create", script + ["apply", "--spec", spec]), ("rerun", script + ["apply", "--spec", spec]),
                ("update", script + ["apply", "--spec", changed_spec]), ("destroy", script + ["destroy", "--spec", changed_spec])]
        return plan, ROOT, self.env, sdk_changed, script + ["destroy", "--spec", spec]

    def ansible_plan(self, size, run):
        venv_bin = self.ansible_python.parent
        env = {**self.env, "PATH": f"{venv_bin}:{self.env['PATH']}", "ANSIBLE_PYTHON_INTERPRETER": str(self.ansible_python),
               "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}
        spec, changed_spec = self.spec_files("ansible", size, run)

        def play(spec_file, state):
            return [str(venv_bin / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK), "-e", f"@{spec_file}", "-e", f"state={state}"]

        plan = [("create", play(spec, "present")), ("rerun", play(spec, "present")),
                ("update", play(changed_spec, "present")), ("destroy", play(changed_spec, "absent"))]
        return plan, ROOT, env, ansible_changed, play(spec, "absent")

    def tofu_plan(self, size, run):
        self.tofu = self.tofu or ensure_tofu()
        work = self.tmp / self.names("tofu", size, run)[0].rstrip("-")
        spec, changed_spec = (json.loads(Path(p).read_text()) for p in self.spec_files("tofu", size, run))
        version = tofu_config.provider_version()
        tofu_config.write(spec, work, version)
        # The provider from bin/tofu-plugins only (nothing fetched); no colours, no prompts.
        env = {**self.env, "TF_CLI_CONFIG_FILE": str(ROOT / "bin/tofu.tfrc"), "TF_IN_AUTOMATION": "1",
               "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
        tofu = [str(self.tofu)]
        subprocess.run(tofu + ["init", "-no-color"], cwd=work, env=env, check=True, capture_output=True)
        apply = tofu + ["apply", "-no-color", "-auto-approve"]
        plan = [("create", apply), ("preview", tofu + ["plan", "-no-color", "-refresh=false"]),
                ("refresh-preview", tofu + ["plan", "-no-color"]), ("rerun", apply),
                ("update", apply, lambda: tofu_config.write(changed_spec, work, version)),
                ("destroy", tofu + ["destroy", "-no-color", "-auto-approve"])]
        return plan, work, env, tofu_changed, tofu + ["destroy", "-no-color", "-auto-approve"]

    def profile(self, sizes) -> dict:
        """Where a no-change preview's time goes: engine start-up alone (an empty Python program) and
        this project's own Python (imports, settings, declaration; benchmarks/program_time.py)."""
        empty = python_project(self.tmp / "empty", "bench-empty", "")
        subprocess.run(["pulumi", "stack", "init", "empty"], cwd=empty, env=self.env, check=True, capture_output=True)
        preview = ["pulumi", "--non-interactive", "preview", "-s", "empty"]
        walls = []
        for _ in range(3):
            result = measured(preview, self.env, empty, self.logs)
            if result["returncode"]:
                raise RuntimeError(f"preview of an empty program failed:\n{result['output'][-1500:]}")
            walls.append(result["wall"])
        profile = {"empty_preview": walls, "timeline": self.timelines}
        for size in sizes:
            config = self.tmp / f"program-{size}.json"
            config.write_text(json.dumps(self.config("pulumi", size, 0, [])))
            program = [str(ROOT / ".venv/bin/python"), str(ROOT / "benchmarks/program_time.py"), str(config)]
            profile[size] = [json.loads(subprocess.run(program, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
                             for _ in range(3)]
        return profile


# --- a preview phase by phase ----------------------------------------------------------------------
# The marks between a preview's phases: (what the phase up to the mark is, the texts of the engine's log
# line that ends it, whether the first or the last such line, or the first that also says "success").
# The preview's start and end close the timeline.
TIMELINE = (
    ("CLI start-up, to its first log line", (), "first"),
    ("the language host's About (the Python behind the program, for the update's metadata)",
     ("langhost[python].About() success",), "first"),
    ("what is left of the CLI's set-up once About answered (stack, config, the passphrase's key derivation)",
     ("Waiting for language runtime metadata",), "first"),
    ("plugin discovery (a second language host lists the program's Pulumi packages)",
     (".GetRequiredPackages(",), "success"),
    ("the program's Python start, imports and settings, to its first registration",
     ("ResourceMonitor.RegisterResource received",), "first"),
    ("OpenStack plugin start and the identity lookups (synchronous invokes)", ("Invoke(openstack:identity/",), "last"),
    ("declaration, the image-tag lookups, registrations up to the dynamic provider's start",
     ("Launching plugin 'pulumi-python",), "first"),
    ("the PKI's dynamic provider process start (registrations wait: default providers start one at a time)",
     (".CheckConfig(", "pulumi-python::default"), "first"),
    ("the remaining checks and diffs, to the end of the program", ("run_pulumi_func completed",), "first"),
    ("the program's interpreter exit", ("langhost[python].Run(",), "success"),
    ("plugin shutdown and the CLI's exit", (), "end"),
)


def timeline(work: Path, env: dict, stack: str) -> list[float]:
    """One no-change preview with the engine's log (`-v=9 --logflow --logtostderr`): the seconds of each
    TIMELINE phase (timeline_phases)."""
    started = time.time()
    proc = subprocess.run(["pulumi", "--non-interactive", "preview", "-s", stack, "-v=9", "--logflow", "--logtostderr"],
                          cwd=work, env=env, capture_output=True, text=True)
    ended = time.time()
    if proc.returncode:
        raise RuntimeError(f"verbose preview failed in {work}:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return timeline_phases(proc.stderr, started, ended)


def engine_log(log: str) -> list[tuple[float, str]]:
    """The engine's JSON log lines as (epoch seconds, message)."""
    lines = []
    for text in log.splitlines():
        if text.startswith('{"time"'):
            entry = json.loads(text)
            at = datetime.datetime.fromisoformat(entry["time"][:26]).replace(tzinfo=datetime.timezone.utc)
            lines.append((at.timestamp(), entry.get("msg", "")))
    return lines


def timeline_phases(log: str, started: float, ended: float) -> list[float]:
    """The seconds of each TIMELINE phase in the engine's JSON log lines, between the preview's start and
    end (epoch seconds); consecutive, so they add up to the whole preview."""
    lines = engine_log(log)
    marks = [started]
    for _, texts, which in TIMELINE:
        if which == "end":
            marks.append(ended)
            continue
        needed = texts + (("success",) if which == "success" else ())
        found = [at for at, msg in lines if all(text in msg for text in needed)]
        if not found:
            raise RuntimeError(f"no engine log line with {needed}: the engine's log changed; update TIMELINE")
        marks.append(found[-1] if which == "last" else found[0])
    if marks != sorted(marks):
        raise RuntimeError(f"the engine's log lines came in another order than TIMELINE's marks: {marks}")
    return [later - earlier for earlier, later in zip(marks, marks[1:])]


def ensure_tofu() -> Path:
    """bin/tofu, its provider mirror and CLI config: tools/tofu/build.sh (cached; cold, some minutes)."""
    subprocess.run([str(TOFU_BUILD)], check=True)
    return ROOT / "bin/tofu"


def ensure_ansible_venv() -> Path:
    python = ANSIBLE_VENV / "bin/python"
    marker = ANSIBLE_VENV / ".requirements"
    if not python.exists() or not marker.exists() or marker.read_text() != ANSIBLE_REQS.read_text():
        print(f"building {ANSIBLE_VENV} ({ANSIBLE_REQS})", flush=True)
        subprocess.run(["python3", "-m", "venv", "--clear", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin/pip"), "install", "-q", "-r", str(ANSIBLE_REQS)], check=True)
        marker.write_text(ANSIBLE_REQS.read_text())
    return python


# --- the report -------------------------------------------------------------------------------------


def versions(bench: Bench) -> dict:
    def out(args):
        # tofu reads its CLI config (the mirror) from TF_CLI_CONFIG_FILE, and warns on a missing one.
        env = {**bench.env, "TF_CLI_CONFIG_FILE": str(ROOT / "bin/tofu.tfrc")}
        try:
            return subprocess.run(args, capture_output=True, text=True, env=env).stdout.strip().splitlines()[0]
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
        **({"OpenTofu / terraform-provider-openstack": f"{out([str(bench.tofu), 'version'])} / {tofu_config.provider_version()}"}
           if bench.tofu else {}),
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


METRICS = (("wall", "wall", " s", 1), ("requests", "requests", "", 0), ("server_s", "API time", " s", 1),
           ("rss_mib", "peak RSS", " MiB", 0), ("changes", "changes", "", 0))
NAMES = {"pulumi": "Pulumi", "sdk": "SDK script", "ansible": "Ansible", "tofu": "OpenTofu"}


def values(results, tool, size, step, metric) -> list:
    runs = [r[step] for r in results.get((tool, size), []) if step in r]
    return [len(r["changed"]) if metric == "changes" else r[metric] for r in runs]


def median(results, tool, size, step, metric="wall"):
    found = values(results, tool, size, step, metric)
    return statistics.median(found) if found else None


def report(results, sizes, runs, bench, profile, started, failures) -> str:
    lines = [
        "# Benchmarks: this project vs an openstacksdk script vs Ansible vs OpenTofu",
        "",
        f"Produced by `{' '.join(['benchmarks/run.py', *sys.argv[1:]])}`; do not edit by hand.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M UTC} (took {(time.time() - started.timestamp()) / 60:.0f} min)",
        f"- Machine: {machine()}; load average at the end {os.getloadavg()[0]:.2f}",
        f"- Runs per cell: {runs}; sizes (health-manager ports = controller hosts): {', '.join(map(str, sizes))}",
        "",
        "| component | version |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in versions(bench).items()],
        "",
        "Cells: median (min–max) over the runs. Ratio = tool / Pulumi (median over median); above 1 means",
        "Pulumi is faster or lighter. `requests`: HTTP requests the devcloud's services logged (keystone",
        "included); `API time`: the services' summed time serving them. `peak RSS`: the tool's process",
        "tree (Pulumi: CLI, language host, Python program, OpenStack provider, PKI dynamic provider;",
        "OpenTofu: tofu and terraform-provider-openstack).",
        "",
        "Steps: `create` cold create; `preview` no-change preview without refresh (`pulumi preview`,",
        "`tofu plan -refresh=false`); `refresh-preview` the same with refresh (`pulumi preview --refresh`,",
        "`tofu plan`: OpenTofu's default); `rerun` the same apply again with nothing changed (`pulumi up`,",
        "the script, the playbook, `tofu apply`);",
        "`update` one change (the management subnet's DNS servers); `destroy` everything but quotas.",
        "`changes` = what the tool *reports* as changed: Pulumi resources (components and the stack",
        "aside), Ansible tasks (as its recap counts them), the script's writes. A no-change run should",
        "report 0.",
        "",
    ]
    for size in sizes:
        lines += [f"## {size} controller hosts", "",
                  f"Cloud objects in the set: {results[('resources', size)]} (Pulumi adds its PKI, local only, and "
                  "component resources).", "",
                  "| step | metric | Pulumi | SDK script | Ansible | OpenTofu | SDK / Pulumi | Ansible / Pulumi | OpenTofu / Pulumi |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for step in STEPS:
            for metric, label, unit, digits in METRICS:
                cells = [fmt(values(results, tool, size, step, metric), unit, digits) for tool in TOOLS]
                if all(c == "—" for c in cells):
                    continue
                base = median(results, "pulumi", size, step, metric)
                ratios = []
                for tool in ("sdk", "ansible", "tofu"):
                    other = median(results, tool, size, step, metric)
                    ratios.append(f"{other / base:.2f}" if base and other is not None and metric != "changes" else "—")
                lines.append(f"| {step} | {label} | " + " | ".join(cells + ratios) + " |")
        lines.append("")
    lines += growth(results, sizes) + no_change_reports(results, sizes) + goals(results, sizes)
    if profile:
        lines += profile_section(results, sizes, profile)
    if failures:
        lines += ["## Failures", "", *[f"- {f}" for f in failures], ""]
    return "\n".join(lines) + "\n"


def growth(results, sizes) -> list:
    if len(sizes) < 2:
        return []
    lines = ["## Cost growth", "", f"Median wall time per size, and its factor over the {sizes[0]}-host size.", "",
             "| step | tool | " + " | ".join(f"{s} hosts" for s in sizes) + " |", "| --- | --- |" + " --- |" * len(sizes)]
    for step in ("create", "rerun", "preview", "refresh-preview", "destroy"):
        for tool in TOOLS:
            walls = [median(results, tool, size, step) for size in sizes]
            if walls[0] is None:
                continue
            cells = [f"{w:.1f} s" + ("" if i == 0 or w is None else f" (×{w / walls[0]:.1f})") if w is not None else "—"
                     for i, w in enumerate(walls)]
            lines.append(f"| {step} | {NAMES[tool]} | " + " | ".join(cells) + " |")
    return lines + [""]


def no_change_reports(results, sizes) -> list:
    lines = ["## What each tool reported on the no-change re-run", ""]
    for tool in TOOLS:
        reported = sorted({item for size in sizes for r in results.get((tool, size), []) for item in r["rerun"]["changed"]})
        if results.get((tool, sizes[0])) is not None or reported:
            lines.append(f"- {NAMES[tool]}: " + (", ".join(f"`{item}`" for item in reported) or "nothing"))
    return lines + [""]


def goals(results, sizes) -> list:
    lines = ["## Goals", "", "| goal | measured | met |", "| --- | --- | --- |"]
    preview, rerun = median(results, "pulumi", sizes[0], "preview"), median(results, "ansible", sizes[0], "rerun")
    if preview and rerun:
        lines.append(f"| no-change preview ≥ 4× faster than the playbook's re-run ({sizes[0]} hosts) | "
                     f"playbook {rerun:.1f} s / preview {preview:.1f} s = {rerun / preview:.1f}× | {'yes' if rerun / preview >= 4 else 'no'} |")
    for i, size in enumerate(sizes):
        ours, script = median(results, "pulumi", size, "create"), median(results, "sdk", size, "create")
        if ours and script:
            goal, met = ("within 2× of the script", ours <= 2 * script) if i == 0 else ("faster than the script", ours < script)
            lines.append(f"| cold create {goal} ({size} hosts) | Pulumi {ours:.1f} s, script {script:.1f} s "
                         f"({ours / script:.2f}×) | {'yes' if met else 'no'} |")
    # Against OpenTofu (issue 18): its no-change plan refreshes by default, so both previews are held to it.
    for size in sizes:
        plan, apply = median(results, "tofu", size, "refresh-preview"), median(results, "tofu", size, "create")
        for label, ours, limit in (("`pulumi preview`", median(results, "pulumi", size, "preview"), 2),
                                   ("`pulumi preview --refresh`", median(results, "pulumi", size, "refresh-preview"), 3)):
            if ours and plan:
                lines.append(f"| {label} ≤ {limit}× `tofu plan` (with refresh; {size} hosts) | {ours:.2f} s / {plan:.2f} s "
                             f"= {ours / plan:.1f}× | {'yes' if ours <= limit * plan else 'no'} |")
        ours = median(results, "pulumi", size, "create")
        if ours and apply:
            lines.append(f"| cold `pulumi up` ≤ 1.5× `tofu apply` ({size} hosts) | {ours:.1f} s / {apply:.1f} s = "
                         f"{ours / apply:.1f}× | {'yes' if ours <= 1.5 * apply else 'no'} |")
    return lines + [""]


def profile_section(results, sizes, profile) -> list:
    def phase(size, key):
        return fmt([p[key] for p in profile[size]], " s", 2)

    lines = ["## Where Pulumi's time goes", "",
             f"`pulumi preview` of an empty Python program (engine, language host, Python start-up): "
             f"{fmt(profile['empty_preview'], ' s', 2)}.", "",
             "This project's own Python, timed without the engine (`benchmarks/program_time.py`: Pulumi mocks",
             "that answer at once), against the no-change `pulumi preview` of the same stack:", "",
             "| hosts | import pulumi | import pulumi_openstack + components | settings | declaration | "
             "`pulumi preview` | its API time |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for size in sizes:
        lines.append(f"| {size} | {phase(size, 'import_sdk_s')} | {phase(size, 'import_ours_s')} | {phase(size, 'settings_s')} | "
                     f"{phase(size, 'declare_s')} | {fmt(values(results, 'pulumi', size, 'preview', 'wall'), ' s', 2)} | "
                     f"{fmt(values(results, 'pulumi', size, 'preview', 'server_s'), ' s', 2)} |")
    top = profile[sizes[-1]][0]["top"]
    lines += ["", f"The declaration's slowest functions of components/ at {sizes[-1]} hosts (cumulative, including the",
              "SDK's registration of the resources they declare):", "",
              *[f"- `{t['function']}` {t['cumulative_s']:.3f} s" for t in top], "",
              "The rest of a preview is the engine's: starting the OpenStack provider and the PKI dynamic",
              "provider, and one Check and Diff call per resource.", ""]
    timelines = profile["timeline"]
    if timelines:
        shown = [size for size in sizes if timelines.get(size)]
        lines += ["A no-change `pulumi preview` phase by phase, from the engine's own log (`-v=9`, which slows it a",
                  "little; once per run, before the re-run; `run.timeline()`): the phases follow one another, so they",
                  "add up to the whole preview.", "",
                  "| phase | " + " | ".join(f"{size} hosts" for size in shown) + " |",
                  "| --- | " + " | ".join("---" for _ in shown) + " |"]
        rows = [(label, lambda run, index=index: run[index]) for index, (label, _, _) in enumerate(TIMELINE)]
        for label, seconds in rows + [("whole preview", sum)]:
            cells = [fmt([seconds(run) for run in timelines[size]], " s", 2) for size in shown]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run at 3 hosts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="3,10,30", help="controller hosts, comma-separated")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, of " + ", ".join(TOOLS))
    parser.add_argument("--out", type=Path, default=OUT, help=f"the report (default {OUT.name})")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    sizes = [3] if args.quick else [int(s) for s in args.sizes.split(",")]
    tools = args.tools.split(",")
    if unknown := set(tools) - set(TOOLS):
        parser.error(f"--tools: unknown {', '.join(sorted(unknown))}; valid: {', '.join(TOOLS)}")
    started = datetime.datetime.now(datetime.timezone.utc)
    bench = Bench()
    results, failures = {}, []
    for size in sizes:
        results[("resources", size)] = resource_count(spec_for(bench.config("pulumi", size, 0, []), ROOT))
        for run in range(1, runs + 1):
            for tool in tools:
                try:
                    res = bench.run(tool, size, run)
                except Exception as err:  # noqa: BLE001 (reported in BENCHMARKS.md)
                    failures.append(f"{tool}, {size} hosts, run {run}: {str(err)[-1500:]}")
                    print(failures[-1], flush=True)
                    continue
                results.setdefault((tool, size), []).append(res)
                print(f"{tool:8} {size:2} hosts run {run}: " + ", ".join(
                    f"{step} {r['wall']:.1f} s/{r['requests']} req/{r['rss_mib']:.0f} MiB/{len(r['changed'])} changed"
                    for step, r in res.items()), flush=True)
    profile = bench.profile(sizes) if "pulumi" in tools else None
    args.out.write_text(report(results, sizes, runs, bench, profile, started, failures))
    print(f"wrote {args.out}; every step's output and requests are in {OUTPUT}")
    shutil.rmtree(bench.tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
