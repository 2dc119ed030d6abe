"""Adopt the Octavia objects an OpenStack-Ansible or kolla-ansible deployment made into a stack.

    python -m tools.adopt --stack NAME [--from osa|kolla] [--vars FILE ...] [--name KIND=NAME ...]
        [--project-dir DIR] [--dry-run] [--no-protect] [--no-preview]

(`make adopt STACK=<env> FROM=osa|kolla [ARGS=...]`.) Run it with the credentials the stack runs with
(scoped to the service project) once the stack's config is what the deployment will be, the adopted
network included (mgmt_network_id, mgmt_subnet_id, mgmt_subnet_cidr).

It finds, in the live cloud, by the deployment tool's names (its defaults, else the variables of
--vars: os_octavia's user_variables or kolla's globals.yml, else --name KIND=NAME; KIND is one of
NAME_KINDS):

- the amphora security group and, kolla only, the health-manager one, and in each the ingress rules
  the program declares (same protocol, port, ethertype and source);
- the amphora flavor and its access for the service project;
- the amphora keypair (Octavia's service user's, else the caller's);
- the amphora image (in the service project);
- kolla only, the health-manager ports `octavia-listen-port-<host>` of the configured hosts;

prints what it will do, then imports them into the stack under the program's resource names and
parents (`pulumi import --file`, the components declared in the same file), and checks with a
preview that no adopted object is replaced, created or deleted. What would otherwise force a
replacement is mended first, each said as it is done:

- Nova can rename neither a flavor nor a keypair, and cannot change a flavor's size or visibility:
  the config keys amp_flavor_name (without name_prefix), amp_flavor_vcpus/ram_mb/disk_gb are set
  to the flavor's values; a public flavor is not adopted. The keypair is not imported: its public
  key becomes ssh_public_key, so the stack's own keypair (named by the program, for Octavia's
  service user, whom Nova cannot make the owner of an existing pair) carries the same key.
- Neutron cannot change a rule: a rule that differs from the program's only in its description is
  deleted and created again with the program's description (Neutron refuses a duplicate), then
  imported. Rules the program does not declare stay in the group, unmanaged, and are listed.
- A health-manager port's device owner (kolla sets none) would replace the port: it is set to the
  program's in Neutron, which changes it in place.
- The security groups' `deleteDefaultRules` (only acted on at creation) is recorded as the
  program's `false` in the state; Neutron's default egress rules are checked to be there.
- The image keeps its data: it is adopted as the current version of amp_images only when that
  version's local file has the image's checksum (a URL source is taken as is, said so), its
  source is recorded in the state, and it is renamed to the program's name in Glance first (the
  tag check of every preview takes a tagged image named otherwise for another stack's).

Everything else that differs (names of groups, ports and image, descriptions, image tags and
properties, device owner) is an update that the next `up` makes, listed by the preview.

Imported objects are protected (as `pulumi import` does) until the first `up`, which sets protection
as the program declares it (`protect` covers only the network, subnet and CAs): a destroy before that
stops at the first adopted object; afterwards the stack owns them and destroy deletes them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.health_manager import DEVICE_OWNER  # noqa: E402
from components.image import image_properties  # noqa: E402
from components.security_groups import GROUP_DESCRIPTIONS, rule_table  # noqa: E402
from config.names import AMPHORA, HEALTH_MANAGER, names  # noqa: E402
from config.errors import ConfigError  # noqa: E402
from config.settings import decode_config, parse_settings  # noqa: E402

PROJECT = "octavia-infra"
NAME_KINDS = ("amphora_secgroup", "health_manager_secgroup", "flavor", "keypair", "image", "health_manager_port")
# The tools' defaults: os_octavia defaults/main.yml and kolla-ansible's octavia role defaults/main.yml
# (health_manager_port takes {host}). OpenStack-Ansible has no health-manager security group or ports:
# its health managers sit on the lbaas bridge in their containers.
DEFAULT_NAMES = {
    "osa": {"amphora_secgroup": "octavia_sec_grp", "flavor": "m1.amphora", "keypair": "octavia_key",
            "image": "amphora-x64-haproxy"},
    "kolla": {"amphora_secgroup": "lb-mgmt-sec-grp", "health_manager_secgroup": "lb-health-mgr-sec-grp",
              "flavor": "amphora", "keypair": "octavia_ssh_key", "image": "amphora-x64-haproxy",
              "health_manager_port": "octavia-listen-port-{host}"},
}
# Where the tools' variables keep those names: a path of keys (an int indexes a list).
VARIABLES = {
    "osa": {"amphora_secgroup": ("octavia_security_group_name",), "flavor": ("octavia_amp_flavor_name",),
            "keypair": ("octavia_ssh_key_name",), "image": ("octavia_amp_image_resource", 0, "name")},
    "kolla": {"amphora_secgroup": ("octavia_amp_security_groups", "mgmt-sec-grp", "name"),
              "health_manager_secgroup": ("octavia_amp_security_groups", "health-mgr-sec-grp", "name"),
              "flavor": ("octavia_amp_flavor", "name"), "keypair": ("octavia_amp_ssh_key_name",)},
}
SECGROUP_KINDS = {AMPHORA: "amphora_secgroup", HEALTH_MANAGER: "health_manager_secgroup"}
# Resource types and the program's component types (components/*.py), for the import file.
TYPES = {
    "foundation": "octavia-infra:foundation:OctaviaFoundation",
    "secgroups": "octavia-infra:security:SecurityGroups",
    "health-manager": "octavia-infra:healthmanager:HealthManagerPorts",
    "amp-flavor": "octavia-infra:compute:AmphoraFlavor",
    "amp-image": "octavia-infra:image:AmphoraImages",
    "secgroup": "openstack:networking/secGroup:SecGroup",
    "rule": "openstack:networking/secGroupRule:SecGroupRule",
    "port": "openstack:networking/port:Port",
    "flavor": "openstack:compute/flavor:Flavor",
    "flavor-access": "openstack:compute/flavorAccess:FlavorAccess",
    "image": "openstack:images/image:Image",
}
FOUNDATION = "octavia"  # __main__.py's OctaviaFoundation; its children are named <FOUNDATION>-<part>


class AdoptError(Exception):
    """Adoption cannot go on: one message for the operator."""


@dataclass
class Plan:
    imports: list[dict] = field(default_factory=list)  # import-file resources (components added later)
    config: dict[str, Any] = field(default_factory=dict)  # stack config to set first
    mends: list[tuple[str, Callable[[], Optional[str]]]] = field(default_factory=list)  # (what, do) -> new id
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource name -> properties to record
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, name: str, parent: str, resource_id: str) -> dict:
        entry = {"type": TYPES[kind], "name": name, "id": resource_id, "parent": parent}
        self.imports.append(entry)
        return entry


# --- the stack -----------------------------------------------------------------------------------------


def pulumi(args: list[str], project_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["pulumi", "--non-interactive", *args], cwd=project_dir, capture_output=True, text=True)
    if check and done.returncode:
        raise AdoptError(f"pulumi {' '.join(args[:2])} failed:\n{(done.stdout + done.stderr).strip()[-3000:]}")
    return done


def stack_settings(stack: str, project_dir: Path):
    raw = json.loads(pulumi(["config", "--json", "--show-secrets", "-s", stack], project_dir).stdout)
    prefix = f"{PROJECT}:"
    values = {key[len(prefix):]: entry["value"] for key, entry in raw.items() if key.startswith(prefix) and "value" in entry}
    return parse_settings(decode_config(values))


# --- the names -----------------------------------------------------------------------------------------


def lookup(variables: dict, path: tuple) -> Optional[str]:
    value: Any = variables
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value if isinstance(value, str) and "{{" not in value else None


def tool_names(tool: str, variable_files: list[Path], overrides: list[str]) -> dict[str, Optional[str]]:
    """The names to look for: the tool's defaults, then its variables (a later file wins), then --name."""
    found: dict[str, Optional[str]] = {kind: DEFAULT_NAMES[tool].get(kind) for kind in NAME_KINDS}
    for path in variable_files:
        variables = yaml.safe_load(path.read_text()) or {}
        for kind, where in VARIABLES[tool].items():
            value = lookup(variables, where)
            if value:
                found[kind] = value
    for item in overrides:
        kind, _, name = item.partition("=")
        if kind not in NAME_KINDS or not name:
            raise AdoptError(f"--name {item!r}: KIND=NAME with KIND one of {', '.join(NAME_KINDS)}")
        found[kind] = None if name == "-" else name
    return found


# --- the cloud -----------------------------------------------------------------------------------------


def one(objects, what: str, name: str):
    objects = list(objects)
    if len(objects) > 1:
        raise AdoptError(f"{len(objects)} {what}s are named {name!r} ({', '.join(o.id for o in objects)}): "
                         f"name the one to adopt with --name, or delete the others")
    return objects[0] if objects else None


def file_digests(path: Path) -> tuple[str, str]:
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            md5.update(chunk)
            sha512.update(chunk)
    return md5.hexdigest(), sha512.hexdigest()


class Adoption:
    def __init__(self, conn, settings, tool: str, looked_for: dict, project_dir: Path):
        self.conn, self.settings, self.tool, self.looked_for = conn, settings, tool, looked_for
        self.names, self.project_dir, self.plan = names(settings), project_dir, Plan()
        identity = conn.identity
        domain = settings.service_project_domain
        self.project = identity.find_project(settings.service_project, domain_id=domain, ignore_missing=False)
        self.octavia_user = identity.find_user(settings.octavia_service_user, domain_id=domain, ignore_missing=False)

    def child(self, part: str) -> str:
        return f"{FOUNDATION}-{part}"

    def run(self) -> Plan:
        self.security_groups()
        self.health_manager_ports()
        self.flavor()
        self.keypair()
        self.image()
        return self.plan

    # security groups and rules

    def security_groups(self) -> None:
        parent, cidr = self.child("secgroups"), str(self.settings.network.cidr)
        ethertype = f"IPv{self.settings.network.ip_version}"
        for role, kind in SECGROUP_KINDS.items():
            name = self.looked_for.get(kind)
            group = name and one(self.conn.network.security_groups(name=name, project_id=self.project.id),
                                 "security group", name)
            target = self.names.security_group(role)
            if not group:
                self.plan.notes.append(f"security group {target}: created by the stack"
                                       + (f" (no group {name!r} found)" if name else f" ({self.tool} makes none)"))
                continue
            resource = f"{parent}-{role}"
            self.plan.add("secgroup", resource, parent, group.id)
            self.plan.state[resource] = {"deleteDefaultRules": False}
            rules = list(self.conn.network.security_group_rules(security_group_id=group.id))
            if not any(r.direction == "egress" and not r.protocol and not r.remote_ip_prefix for r in rules):
                self.plan.notes.append(f"security group {group.name}: Neutron's default egress rules are missing "
                                       "(the program keeps them on the groups it makes); add them by hand")
            changes = [f"name {group.name} -> {target}"] if group.name != target else []
            if (group.description or "") != GROUP_DESCRIPTIONS[role]:
                changes.append("description")
            self.plan.notes.append(f"security group {group.name} ({group.id}): adopted as {resource}"
                                   + (f"; updated in place by the next up: {', '.join(changes)}" if changes else ""))
            matched = set()
            for spec in (r for r in rule_table(self.settings) if r.group == role):
                source = spec.source or cidr
                same = [r for r in rules if r.direction == "ingress" and r.ether_type == ethertype
                        and (r.protocol or "") == spec.protocol and r.port_range_min == spec.port
                        and r.port_range_max == spec.port and (r.remote_ip_prefix or "") == source
                        and not r.remote_group_id]
                rule_name = f"{parent}-{role}-{spec.key}"
                if not same:
                    self.plan.notes.append(f"rule {rule_name}: created by the stack (not in {group.name})")
                    continue
                rule = same[0]
                matched.add(rule.id)
                entry = self.plan.add("rule", rule_name, parent, rule.id)
                if (rule.description or "") != spec.description:
                    self.plan.mends.append((
                        f"rule {rule.id} of {group.name} ({spec.protocol} {spec.port or ''} from {source}): Neutron cannot "
                        f"change a rule's description ({rule.description or ''!r} -> {spec.description!r}): deleted and "
                        "created again with it, a moment without the rule",
                        self._recreate_rule(rule, spec.description, entry)))
            for rule in rules:
                default_egress = rule.direction == "egress" and not rule.protocol and not rule.remote_ip_prefix
                if rule.id not in matched and not default_egress:
                    self.plan.notes.append(
                        f"rule {rule.id} of {group.name} ({rule.direction} {rule.protocol or 'any'} "
                        f"{rule.port_range_min or ''} {rule.remote_ip_prefix or rule.remote_group_id or ''}): not declared "
                        "by the program, kept in the group and not managed; delete it by hand if unwanted")

    def _recreate_rule(self, rule, description: str, entry: dict) -> Callable[[], str]:
        def recreate() -> str:
            attributes = {key: getattr(rule, key) for key in (
                "security_group_id", "direction", "ether_type", "protocol", "port_range_min", "port_range_max",
                "remote_ip_prefix")}
            self.conn.network.delete_security_group_rule(rule, ignore_missing=False)
            new = self.conn.network.create_security_group_rule(**attributes, description=description)
            entry["id"] = new.id
            return new.id

        return recreate

    # health-manager ports (kolla)

    def health_manager_ports(self) -> None:
        pattern, parent = self.looked_for.get("health_manager_port"), self.child("health-manager")
        if not pattern:
            return
        for host in self.settings.health_managers:
            name = pattern.format(host=host.name)
            port = one(self.conn.network.ports(name=name, project_id=self.project.id), "port", name)
            if not port:
                self.plan.notes.append(f"health-manager port of {host.name}: created by the stack (no port {name!r})")
                continue
            ips = [ip["ip_address"] for ip in port.fixed_ips]
            if host.ip and str(host.ip) not in ips:
                raise AdoptError(f"port {name} has {', '.join(ips)} but health_managers says {host.name} has {host.ip}: "
                                 "set that host's ip to the port's (the host is configured with it)")
            if port.binding_host_id != host.name:
                self.plan.notes.append(f"port {name}: bound to {port.binding_host_id!r}, the next up binds it to {host.name}")
            resource = f"{parent}-{host.name}"
            self.plan.add("port", resource, parent, port.id)
            changes = [f"name -> {self.names.health_manager_port(host.name)}"] if port.name != self.names.health_manager_port(host.name) else []
            if port.device_owner != DEVICE_OWNER:
                self.plan.mends.append((
                    f"port {name} ({port.id}): device owner {port.device_owner or ''!r} -> {DEVICE_OWNER!r}, set in Neutron "
                    "(the provider would replace the port for it, Neutron changes it in place)",
                    lambda port=port: self.conn.network.update_port(port, device_owner=DEVICE_OWNER) and None))
            self.plan.notes.append(f"port {name} ({port.id}): adopted as {resource}"
                                   + (f"; updated by the next up: {', '.join(changes)}" if changes else ""))

    # flavor and its access

    def flavor(self) -> None:
        name, parent = self.looked_for.get("flavor"), self.child("amp-flavor")
        flavor = name and one((f for f in self.conn.compute.flavors(is_public=None) if f.name == name), "flavor", name)
        if not flavor:
            self.plan.notes.append(f"flavor {self.names.flavor}: created by the stack" + (f" (no flavor {name!r})" if name else ""))
            return
        prefix = self.settings.name_prefix
        if flavor.is_public:
            self.plan.notes.append(f"flavor {name} is public and Nova cannot make it private: not adopted; the stack "
                                   "makes its own private flavor, so give it another amp_flavor_name and delete the old "
                                   "one once Octavia uses the new amp_flavor_id")
            if self.names.flavor == name:
                raise AdoptError(f"flavor {name} is public and has the stack's flavor name: set amp_flavor_name to another name")
            return
        if not name.startswith(prefix):
            raise AdoptError(f"flavor {name}: Nova cannot rename a flavor and the stack's flavor names start with "
                             f"name_prefix {prefix!r}; adopt with name_prefix '' or leave the flavor out (--name flavor=-)")
        wanted = {"amp_flavor_name": name[len(prefix):], "amp_flavor_vcpus": flavor.vcpus,
                  "amp_flavor_ram_mb": flavor.ram, "amp_flavor_disk_gb": flavor.disk}
        current = {"amp_flavor_name": self.settings.flavor.name, "amp_flavor_vcpus": self.settings.flavor.vcpus,
                   "amp_flavor_ram_mb": self.settings.flavor.ram_mb, "amp_flavor_disk_gb": self.settings.flavor.disk_gb}
        for key, value in wanted.items():
            if current[key] != value:
                self.plan.config[key] = value
        resource = f"{parent}-flavor"
        self.plan.add("flavor", resource, parent, flavor.id)
        self.plan.notes.append(f"flavor {name} ({flavor.id}): adopted as {resource}; Nova cannot resize or rename it, so "
                               "its name and size are the stack's config")
        access = [a for a in self.conn.compute.get_flavor_access(flavor) if a.get("tenant_id") == self.project.id]
        if access:
            self.plan.add("flavor-access", f"{parent}-service-access", parent, f"{flavor.id}/{self.project.id}")
        else:
            self.plan.notes.append(f"flavor {name}: access for project {self.project.name} created by the stack")

    # keypair

    def keypair(self) -> None:
        name = self.looked_for.get("keypair")
        if not self.settings.access.ssh_enabled or not name:
            if name:
                self.plan.notes.append(f"keypair {name}: left alone (ssh_enabled is false: the stack makes no keypair)")
            return
        keypair = None
        for user in (self.octavia_user.id, None):
            try:
                keypair = self.conn.compute.get_keypair(name, user_id=user) if user else self.conn.compute.get_keypair(name)
                break
            except Exception:  # noqa: BLE001 - openstacksdk's NotFound, or an older Nova without user_id
                continue
        if keypair is None:
            self.plan.notes.append(f"keypair {self.names.keypair}: created by the stack (no keypair {name!r})")
            return
        public_key = keypair.public_key.strip()
        configured = (self.settings.access.ssh_public_key or "").strip()
        if configured and configured.split()[:2] != public_key.split()[:2]:
            raise AdoptError(f"ssh_public_key is set and is not keypair {name}'s public key: unset it to carry the key over")
        if not configured:
            self.plan.config["ssh_public_key"] = public_key
        self.plan.notes.append(
            f"keypair {name}: Nova can neither rename a keypair nor give it to another user, so the stack creates "
            f"{self.names.keypair} for {self.settings.octavia_service_user} with the same public key (ssh_public_key); "
            f"delete {name} once Octavia uses amp_ssh_key_name")

    # image

    def image(self) -> None:
        name, parent = self.looked_for.get("image"), self.child("amp-image")
        version = self.settings.image.current
        target = self.names.image(version.version)
        image = None
        for looked_for in (name, target) if name else ():  # renamed already by an interrupted adoption
            image = one(self.conn.image.images(name=looked_for, owner=self.project.id), "image", looked_for)
            if image:
                break
        if not image:
            self.plan.notes.append(f"image {target}: uploaded by the stack" + (f" (no image {name!r})" if name else ""))
            return
        if image.disk_format != version.disk_format:
            raise AdoptError(f"image {name} is {image.disk_format}, amp_images' current version is {version.disk_format}")
        if version.is_url:
            recorded = {"imageSourceUrl": version.source, "webDownload": True}
            self.plan.notes.append(f"image {name}: the current version's source is a URL, not checked against the image")
        else:
            source = Path(version.source)
            source = source if source.is_absolute() else self.project_dir / source
            if not source.is_file():
                raise AdoptError(f"amp_images' current version {version.version}: no file {source}")
            md5, sha512 = file_digests(source)
            if image.checksum != md5 or (image.hash_value and image.hash_value != sha512):
                raise AdoptError(f"image {name} ({image.id}) does not hold {source} (checksums differ): set the current "
                                 "version of amp_images to the file it was uploaded from, or leave it out (--name image=-)")
            recorded = {"localFilePath": version.source}
        resource = f"{parent}-{version.version}"
        self.plan.add("image", resource, parent, image.id)
        self.plan.state[resource] = recorded
        if image.name != target:
            self.plan.mends.append((f"image {name} ({image.id}): renamed {target} in Glance (Octavia picks images by tag, "
                                    "and the stack's tag check takes a tagged image named otherwise for another's)",
                                    lambda: self.conn.image.update_image(image, name=target) and None))
        changes = []
        if sorted(image.tags or []) != [self.settings.image.tag]:
            changes.append(f"tags {sorted(image.tags or [])} -> [{self.settings.image.tag!r}] (Octavia's amp_image_tag "
                           "must follow)")
        wanted = image_properties(self.settings.image, version)
        if any((image.properties or {}).get(k) != v for k, v in wanted.items()):
            changes.append("properties")
        if image.visibility != "private":
            changes.append(f"visibility {image.visibility} -> private")
        self.plan.notes.append(f"image {name} ({image.id}): adopted as {resource}, version {version.version}"
                               + (f"; updated by the next up: {', '.join(changes)}" if changes else ""))


# --- the import ----------------------------------------------------------------------------------------


def import_file(plan: Plan) -> dict:
    """The import file: the components the imported resources need, then the resources."""
    parents = {entry["parent"] for entry in plan.imports}
    components = [{"type": TYPES["foundation"], "name": FOUNDATION, "component": True}]
    for part in ("secgroups", "health-manager", "amp-flavor", "amp-image"):
        name = f"{FOUNDATION}-{part}"
        if name in parents:
            components.append({"type": TYPES[part], "name": name, "component": True, "parent": FOUNDATION})
    version = metadata.version("pulumi_openstack")
    resources = [{**entry, "version": version} for entry in plan.imports]
    return {"resources": components + resources}


def record_state(stack: str, project_dir: Path, properties: dict[str, dict[str, Any]]) -> None:
    """Record, in the state, what the provider cannot read back (inputs and outputs alike)."""
    if not properties:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        pulumi(["stack", "export", "-s", stack, "--file", str(path)], project_dir)
        state = json.loads(path.read_text())
        for resource in state["deployment"].get("resources") or []:
            name = resource["urn"].rsplit("::", 1)[-1]
            if name in properties:
                for part in ("inputs", "outputs"):
                    resource.setdefault(part, {}).update(properties[name])
        path.write_text(json.dumps(state))
        pulumi(["stack", "import", "-s", stack, "--file", str(path)], project_dir)


def check_preview(stack: str, project_dir: Path, adopted: set[str]) -> list[str]:
    """Each adopted resource's step in a preview; raises if one is replaced, created or deleted."""
    done = pulumi(["preview", "--json", "-s", stack], project_dir, check=False)
    try:
        steps = json.loads(done.stdout).get("steps") or []
    except ValueError:
        raise AdoptError(f"the preview failed:\n{(done.stdout + done.stderr).strip()[-3000:]}") from None
    lines, bad = [], []
    for step in steps:
        name = step["urn"].rsplit("::", 1)[-1]
        if name not in adopted:
            continue
        op = step.get("op")
        reasons = step.get("replaceReasons") or step.get("diffReasons") or []
        lines.append(f"{op:8} {name}" + (f" ({', '.join(reasons)})" if reasons else ""))
        if op not in ("same", "update"):
            bad.append(lines[-1])
    if bad:
        raise AdoptError("the preview would not keep every adopted object:\n" + "\n".join(bad))
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.adopt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--from", dest="tool", choices=sorted(DEFAULT_NAMES), default="osa")
    parser.add_argument("--vars", type=Path, action="append", default=[],
                        help="the tool's variables (user_variables*.yml, globals.yml); a later file wins")
    parser.add_argument("--name", action="append", default=[], metavar="KIND=NAME",
                        help=f"the name of one object; '-' leaves it out. KIND: {', '.join(NAME_KINDS)}")
    parser.add_argument("--project-dir", type=Path, default=Path("."))  # make adopt runs in the project
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    parser.add_argument("--no-protect", action="store_true", help="import unprotected (default: protected until the first up)")
    parser.add_argument("--no-preview", action="store_true", help="skip the closing preview check")
    args = parser.parse_args(argv)

    import openstack

    args.vars = [path.resolve() for path in args.vars]
    os.chdir(args.project_dir)  # the stack's relative paths (amp_images sources) start there, as for pulumi
    args.project_dir = Path(".")
    try:
        looked_for = tool_names(args.tool, args.vars, args.name)
        settings = stack_settings(args.stack, args.project_dir)
        conn = openstack.connect()
        state = json.loads(pulumi(["stack", "export", "-s", args.stack], args.project_dir).stdout)
        if any(r["type"] != "pulumi:pulumi:Stack" for r in state.get("deployment", {}).get("resources") or []):
            raise AdoptError(f"stack {args.stack} already manages resources: adopt into a stack before its first up")
        plan = Adoption(conn, settings, args.tool, looked_for, args.project_dir).run()
        print(f"Adopting into stack {args.stack} ({args.tool} names: "
              + ", ".join(f"{k}={v}" for k, v in looked_for.items() if v) + ")")
        for note in plan.notes:
            print(f"  - {note}")
        for key, value in plan.config.items():
            print(f"  config {key} = {value if key != 'ssh_public_key' else str(value)[:40] + '...'}")
        for what, _ in plan.mends:
            print(f"  mend: {what}")
        if args.dry_run:
            print(json.dumps(import_file(plan), indent=2) if plan.imports else "Nothing to import.")
            print("Dry run: nothing changed.")
            return 0
        for key, value in plan.config.items():
            pulumi(["config", "set", "-s", args.stack, key, str(value)], args.project_dir)
        for what, mend in plan.mends:
            mend()
        if not plan.imports:
            print("Nothing to import: the stack creates its own objects.")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "import.json"
            path.write_text(json.dumps(import_file(plan), indent=2))
            pulumi(["import", "--yes", "--generate-code=false", f"--protect={'false' if args.no_protect else 'true'}",
                    "-s", args.stack, "--file", str(path)], args.project_dir)
        record_state(args.stack, args.project_dir, plan.state)
        print(f"Imported {len(plan.imports)} objects" + ("" if args.no_protect else ", protected until the first up"))
        if not args.no_preview:
            for line in check_preview(args.stack, args.project_dir, {entry["name"] for entry in plan.imports}):
                print(f"  {line}")
            print("No adopted object is replaced: review `make preview`, then `make up`.")
    except (AdoptError, ConfigError) as err:
        print(f"adopt: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
