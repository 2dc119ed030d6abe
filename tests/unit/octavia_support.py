"""Shared helpers for the unit tests: a valid base config, and the foundation declared under Pulumi mocks.

The mocks record every resource's type, name, inputs and options. PKI resources (dynamic
providers) run their real provider code in-process, so the certificate wiring is exercised too.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.dynamic.dynamic import PROVIDER_KEY
from pulumi.runtime.rpc import unwrap_rpc_secret

from components.foundation import OctaviaFoundation
from components.identity import look_up_identities
from components.pki_provider import CertificateAuthorityProvider, ClientCertificateProvider, RandomSecretProvider
from config.settings import decode_config, parse_settings

ROOT = Path(__file__).resolve().parents[2]
PROJECT_ID = "service-project-uuid"
ALLOCATED_IP = "172.29.232.200"  # what the mocked Neutron allocates when no fixed IP is asked for
PORT_MAC_PREFIX = "fa:16:3e"  # Neutron's default base_mac; the mocks derive the rest from the port's name
GENERATED_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nmocked\n-----END OPENSSH PRIVATE KEY-----\n"

SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIARoLgDxhrRlBvtT6odksp221slOHhHKluMlQDdFqC9+ operator"

FAST_KEYS = {"key_type": "ec", "key_size": 256}
FAST_PKI = {"server_ca": FAST_KEYS, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS}

DYNAMIC_PROVIDERS = {
    "pulumi-python:dynamic/pki:CertificateAuthority": CertificateAuthorityProvider,
    "pulumi-python:dynamic/pki:ClientCertificate": ClientCertificateProvider,
    "pulumi-python:dynamic/pki:RandomSecret": RandomSecretProvider,
}


def base_config(image_file: str) -> dict[str, Any]:
    """A small valid config: 10 ACTIVE_STANDBY load balancers on a /24."""
    return {
        "mgmt_subnet_cidr": "172.29.232.0/24",
        "mgmt_allocation_pools": [{"start": "172.29.232.50", "end": "172.29.232.250"}],
        "health_managers": [{"host": "ctl1", "ip": "172.29.232.11"}, {"host": "ctl2"}],
        "amp_images": [{"version": "v1", "source": image_file}],
        "expected_loadbalancers": 10,
        "pki": copy.deepcopy(FAST_PKI),
    }


@dataclass
class Declared:
    """One registered resource."""

    type: str
    name: str
    inputs: dict
    opts: pulumi.ResourceOptions | None = None


@dataclass
class Run:
    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    lookups: list[str] = field(default_factory=list)  # tokens of the data sources read

    def of_type(self, token: str) -> list[Declared]:
        return [r for r in self.resources if r.type == token]


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: Run, image_owner: str = PROJECT_ID, tagged_images: dict | None = None):
        self.run = run
        self.image_owner = image_owner  # Glance's owner: the project the credentials are scoped to
        # {name: id} of the images in Glance that carry the stack's tag in its service project
        self.tagged_images = tagged_images or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.run.resources.append(Declared(args.typ, args.name, dict(args.inputs)))
        if args.typ in DYNAMIC_PROVIDERS:
            inputs = {k: unwrap_rpc_secret(v) for k, v in args.inputs.items() if k != PROVIDER_KEY}
            created = DYNAMIC_PROVIDERS[args.typ]().create(inputs)
            return created.id, created.outs
        return f"{args.name}-id", {**args.inputs, **self._computed(args)}

    def _computed(self, args: pulumi.runtime.MockResourceArgs) -> dict:
        """Output properties the provider would compute."""
        if args.typ == "openstack:networking/port:Port":
            mac = port_mac(args.name)
            fixed = args.inputs["fixedIps"][0]
            return {"allFixedIps": [fixed.get("ipAddress") or self._allocate(fixed.get("subnetId"), mac)], "macAddress": mac}
        if args.typ == "openstack:images/image:Image":
            return {"owner": self.image_owner}
        if args.typ == "openstack:compute/keypair:Keypair" and not args.inputs.get("publicKey"):
            return {"privateKey": GENERATED_PRIVATE_KEY}
        return {}

    def _allocate(self, subnet_id: str, mac: str) -> str:
        """ALLOCATED_IP on an IPv4 subnet; on a SLAAC subnet the EUI-64 address of the MAC, as Neutron computes it."""
        cidrs = [r.inputs.get("cidr") for r in self.run.resources if f"{r.name}-id" == subnet_id and "cidr" in r.inputs]
        if not cidrs or ":" not in cidrs[0]:
            return ALLOCATED_IP
        octets = [int(part, 16) for part in mac.split(":")]
        interface_id = bytes([octets[0] ^ 0x02, *octets[1:3], 0xFF, 0xFE, *octets[3:]])
        return str(ipaddress.ip_network(cidrs[0])[int.from_bytes(interface_id, "big")])

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.run.lookups.append(args.token)
        if args.token == "openstack:identity/getProject:getProject":
            return {"id": PROJECT_ID, "name": args.args.get("name")}
        if args.token == "openstack:identity/getUser:getUser":
            return {"id": user_id(args.args.get("name"), args.args.get("domainId")), "name": args.args.get("name")}
        if args.token == "openstack:images/getImageIds:getImageIds":
            assert args.args["owner"] == PROJECT_ID and len(args.args["tags"]) == 1, args.args
            pattern = args.args.get("nameRegex") or ""
            return {"ids": sorted(i for name, i in self.tagged_images.items() if re.search(pattern, name))}
        raise AssertionError(f"unexpected call {args.token}")


def port_mac(name: str) -> str:
    """The MAC the mocked Neutron gives the port of that resource name."""
    digest = hashlib.sha256(name.encode()).digest()
    return ":".join([PORT_MAC_PREFIX, *(f"{b:02x}" for b in digest[:3])])


def user_id(name: str, domain_id: str) -> str:
    """The ID the mocked Keystone gives the user of that name in that domain."""
    return f"{domain_id}-{name}-user-uuid"


def declare(config: dict[str, Any], image_owner: str = PROJECT_ID, tagged_images: dict | None = None) -> Run:
    """Parse config, declare the foundation under mocks, and return what was declared and exported.

    tagged_images: {name: id} of the images Glance holds with the stack's tag (none by default)."""
    settings = parse_settings(config)
    run = Run()
    mocks = RecordingMocks(run, image_owner, tagged_images)
    pulumi.runtime.set_mocks(mocks, project="octavia-infra", stack="unit", preview=False)
    identities = look_up_identities(settings)

    def record_options(args: pulumi.ResourceTransformationArgs):
        run.resources.append(Declared("__opts__", args.name, {}, args.opts))
        return None

    @pulumi.runtime.test
    def program():
        foundation = OctaviaFoundation(
            "octavia", settings, identities, pulumi.ResourceOptions(transformations=[record_options])
        )
        return pulumi.Output.all(*(_resolve(run, name, value) for name, value in foundation.outputs.items()))

    program()
    options = {r.name: r.opts for r in run.resources if r.type == "__opts__"}
    run.resources = [r for r in run.resources if r.type != "__opts__"]
    for resource in run.resources:
        resource.opts = options.get(resource.name)
    return run


def _resolve(run: Run, name: str, value: Any) -> pulumi.Output:
    output = pulumi.Output.from_input(value)

    async def record():
        run.outputs[name] = await output.future()
        if await output.is_secret():
            run.secret_outputs.add(name)

    return pulumi.Output.from_input(record())


def engine_string(value: Any) -> str:
    """How the engine hands a stack file value to the program: scalars as text, the rest as JSON."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def stack_config(env: str) -> dict[str, Any]:
    """A shipped stack file's config, decoded the way __main__ decodes the engine's values."""
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]
    namespace = "octavia-infra:"
    raw = {key[len(namespace) :]: engine_string(value) for key, value in config.items() if key.startswith(namespace)}
    return decode_config(raw)
