"""The pinned versions agree across tools/versions.env, requirements.txt and the Go modules."""
import json
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def versions() -> dict:
    lines = (ROOT / "tools/versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))


def requirement_pins() -> dict:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def go_module_version(module_dir: str, module: str) -> str:
    out = subprocess.run(
        ["go", "list", "-m", "-json", module], cwd=ROOT / "tools" / module_dir,
        capture_output=True, text=True, check=True, env={**os.environ, "GOTOOLCHAIN": "local"},
    )
    return json.loads(out.stdout)["Version"]


def test_every_python_requirement_is_pinned_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line.strip()), line


def test_python_sdk_pins_match_versions_env():
    pins, pinned = requirement_pins(), versions()
    assert pins["pulumi"] == pinned["PULUMI_SDK_VERSION"]
    assert pins["pulumi-openstack"] == pinned["PULUMI_OPENSTACK_VERSION"]


def as_tuple(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


def test_cli_is_at_least_the_python_sdk():
    pinned = versions()
    assert as_tuple(pinned["PULUMI_CLI_VERSION"]) >= as_tuple(pinned["PULUMI_SDK_VERSION"])


@pytest.mark.parametrize("module_dir, module, key", [
    ("engine/cli", "github.com/pulumi/pulumi/pkg/v3", "PULUMI_CLI_VERSION"),
    ("engine/langhost", "github.com/pulumi/pulumi/sdk/v3", "PULUMI_CLI_VERSION"),
    ("engine/provider", "github.com/terraform-provider-openstack/terraform-provider-openstack/v3",
     "TERRAFORM_PROVIDER_OPENSTACK_VERSION"),
    ("engine/provider", "github.com/pulumi/pulumi-terraform-bridge/v3", "PULUMI_TERRAFORM_BRIDGE_VERSION"),
    # The benchmark's OpenTofu and the plain provider it runs: the same provider release as the plugin's.
    ("tofu/tofu", "github.com/opentofu/opentofu", "OPENTOFU_VERSION"),
    ("tofu/provider", "github.com/terraform-provider-openstack/terraform-provider-openstack/v3",
     "TERRAFORM_PROVIDER_OPENSTACK_VERSION"),
])
def test_go_modules_pin_versions_env(module_dir, module, key):
    assert go_module_version(module_dir, module) == "v" + versions()[key]


def test_go_sums_are_committed_beside_each_module():
    for module_dir in ("engine/cli", "engine/langhost", "engine/provider", "tofu/tofu", "tofu/provider"):
        assert (ROOT / "tools" / module_dir / "go.sum").stat().st_size > 0


def test_the_opentofu_wrapper_carries_opentofus_own_hcl_replace():
    # Go builds OpenTofu only with its HCL fork; tools/tofu/build.sh checks it against OpenTofu's go.mod.
    go_mod = (ROOT / "tools/tofu/tofu/go.mod").read_text()
    assert re.search(r"^replace github.com/hashicorp/hcl/v2 \S+ => github.com/opentofu/hcl/v2 \S+$", go_mod, re.M)
