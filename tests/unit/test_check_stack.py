"""tools/check_stack.py: stack files in the string forms of before structured config, each value
shown rewritten, before Pulumi's bare type check would stop them."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml


ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "b55539a36e1885927e71acce8eeb2a7b5b1283b5"  # the last one with string forms


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.check_stack", str(path)], cwd=ROOT, capture_output=True, text=True)


def test_the_previous_prod_stack_file_gets_every_old_value_rewritten(tmp_path):
    old = tmp_path / "Pulumi.prod.yaml"
    old.write_bytes(subprocess.run(["git", "-C", str(ROOT), "show", f"{PREVIOUS_RELEASE}:stacks/Pulumi.prod.yaml"],
                                   capture_output=True, check=True).stdout)
    out = check(old)
    lines = out.stderr.splitlines()
    assert out.returncode == 1 and len(lines) == 4
    assert [line.split("config ")[1].split("=")[0] for line in lines] == [
        "mgmt_allocation_pools", "mgmt_reserved_ranges", "health_manager_hosts", "amp_images"]
    assert ("health_managers: [{host: ctl1, ip: 172.29.232.11}, {host: ctl2, ip: 172.29.232.12}, "
            "{host: ctl3, ip: 172.29.232.13}]") in lines[2]


def test_the_rewrites_are_what_the_current_stack_files_say(tmp_path):
    """Pasting each rewrite into the old file gives the settings of today's stacks/Pulumi.prod.yaml."""
    old = yaml.safe_load(subprocess.run(["git", "-C", str(ROOT), "show", f"{PREVIOUS_RELEASE}:stacks/Pulumi.prod.yaml"],
                                        capture_output=True, check=True).stdout)["config"]
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump({"config": old}))
    for line in check(path).stderr.splitlines():
        key = line.split("config ")[1].split("=")[0]
        new_key, _, value = line.rpartition("written in its form: ")[2].partition(": ") if "replaced by" in line \
            else (key, None, line.split("written as objects: ")[1])
        old.pop(f"octavia-infra:{key}")
        old[f"octavia-infra:{new_key}"] = yaml.safe_load(value)
    current = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    assert old == current


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_shipped_stack_files_are_in_the_new_form(env):
    out = check(ROOT / "stacks" / f"Pulumi.{env}.yaml")
    assert out.returncode == 0 and out.stderr == ""


def test_make_preview_and_up_check_the_stack_file_first():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("up:", "preview:", "preview-md:"):
        recipe = makefile.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        assert "$(CHECK_STACK)" in recipe, target


def test_a_file_that_is_not_yaml_is_one_line(tmp_path):
    broken = tmp_path / "Pulumi.x.yaml"
    broken.write_text("config:\n  octavia-infra:mgmt_mtu: 1500\nencryptionsalt: v1:abc\n  octavia-infra:pki:\n")
    out = check(broken)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "not valid YAML at line 4, column" in out.stderr and "Traceback" not in out.stderr


def test_a_misspelt_required_key_is_named_with_a_guess(tmp_path):
    """Pulumi alone says only "missing configuration value 'health_managers'"."""
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text("config:\n  octavia-infra:helth_managers:\n    - {host: ctl1}\n  octavia-infra:lbaas_v1: true\n")
    lines = check(stack).stderr.splitlines()
    assert len(lines) == 2
    assert "config lbaas_v1=True: the neutron-lbaas v1 API is retired" in lines[0]
    assert "config helth_managers=" in lines[1] and "unknown key; did you mean health_managers?" in lines[1]
