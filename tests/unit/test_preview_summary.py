"""tools/preview_summary.py on real `pulumi preview --json` captured from devcloud runs
(tests/fixtures/preview/, captured by tests/integration/test_preview_json.py)."""

import io
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import preview_summary as ps  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "preview"
KINDS = ("create", "update", "replace", "delete")


def load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def tally(summary):
    match = re.search(r"(\d+) to create · (\d+) to update · (\d+) to replace · (\d+) to delete\*\* \((\d+) unchanged\)", summary)
    return tuple(int(n) for n in match.groups())


@pytest.mark.parametrize("name", ["no-change", "update", "replace", "delete", "pki-rollover"])
def test_counts_agree_with_the_engines_change_summary(name):
    preview = load(name)
    engine = preview["changeSummary"]
    assert tally(ps.render(preview)) == (*(engine.get(kind, 0) for kind in KINDS), engine["same"])


def test_no_change():
    summary = ps.render(load("no-change"), "local")
    assert summary.startswith("### Pulumi preview: local\n")
    assert "No changes." in summary and "|" not in summary and "WARNING" not in summary


def test_update_names_the_resource_and_the_values():
    summary = ps.render(load("update"))
    assert ('| ✏️ update | `octavia-mgmt-subnet` | `openstack:networking/subnet:Subnet` | '
            'dnsNameservers: `[]` → `["172.29.232.2"]` |') in summary
    assert "WARNING" not in summary


def test_replacements_come_first_highlighted_with_their_cause():
    summary = ps.render(load("replace"))
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| 🔁 **replace**"] * 6 + ["| ✏️ update"]
    assert "**vcpus: `1` → `2`** (forces replacement)" in summary
    # dependents replaced because an input is only known after the flavor is recreated
    assert re.search(r"flavorProfileId: `[0-9a-f-]{36}` → `\(known after apply\)`", summary) and "`(known after apply)`" in summary
    assert "> [!WARNING]\n> 6 replaced and 0 deleted" in summary


def test_deletion_is_highlighted():
    summary = ps.render(load("delete"))
    assert "| ❌ **delete** | `octavia-secgroups-amphora-icmp` | `openstack:networking/secGroupRule:SecGroupRule` |  |" in summary
    assert "> [!WARNING]\n> 0 replaced and 1 deleted" in summary


def test_secret_inputs_are_never_shown():
    summary = ps.render(load("pki-rollover"))
    assert "**issuer_private_key_pem: [secret]** (forces replacement)" in summary
    assert "**issuer_private_key_passphrase: [secret]** (forces replacement)" in summary
    assert "generation: `1` → `2`" in summary
    assert "PRIVATE KEY" not in summary


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda path: path.stem)
def test_fixtures_hold_no_plaintext_secret(fixture):
    text = fixture.read_text()
    assert "PRIVATE KEY" not in text
    for step in json.loads(text)["steps"]:
        for state in (step.get("oldState"), step.get("newState")):
            for name in (state or {}).get("additionalSecretOutputs") or []:
                for props in (state.get("inputs", {}), state.get("outputs", {})):
                    assert props.get(name) in (None, "[secret]", ps.UNKNOWN), (fixture.name, step["urn"], name)


def _step(name, old, new, secret_outputs=()):
    urn = f"urn:pulumi:dev::octavia-infra::pulumi-python:dynamic/pki:CertificateAuthority::{name}"
    return {"op": "update", "urn": urn, "diffReasons": sorted(set(old) | set(new)),
            "oldState": {"inputs": old, "additionalSecretOutputs": list(secret_outputs)},
            "newState": {"inputs": new, "additionalSecretOutputs": list(secret_outputs)}}


def test_values_shown_in_plaintext_by_show_secrets_stay_hidden():
    """Even from `preview --json --show-secrets`, secret-looking or secret-marked values never appear."""
    step = _step("ca", {"private_key_pem": "OLD-KEY", "heartbeat_key": "hb-old", "custom_blob": "s3cr3t-old",
                        "nested": {"x": "[secret]"}, "validity_days": 10},
                 {"private_key_pem": "NEW-KEY", "heartbeat_key": "hb-new", "custom_blob": "s3cr3t-new",
                  "nested": {"x": "[secret]"}, "validity_days": 20},
                 secret_outputs=["custom_blob"])
    summary = ps.render({"steps": [step], "changeSummary": {"update": 1}})
    for plaintext in ("OLD-KEY", "NEW-KEY", "hb-old", "hb-new", "s3cr3t"):
        assert plaintext not in summary
    assert "private_key_pem: [secret]" in summary and "custom_blob: [secret]" in summary
    assert "nested: [secret]" in summary and "validity_days: `10` → `20`" in summary


def test_config_block_is_never_read():
    preview = load("update")
    preview["config"] = {"octavia-infra:pki": "TOP-SECRET-CONFIG"}
    assert "TOP-SECRET-CONFIG" not in ps.render(preview)


def test_markdown_table_cells_are_escaped():
    step = _step("ca", {"subject": "a"}, {"subject": "b|c"})
    assert "`b\\|c`" in ps.render({"steps": [step]})


def test_diagnostics_are_listed():
    preview = {"steps": [], "diagnostics": [{"severity": "error", "message": "config mgmt_subnet_cidr=x: bad\n"},
                                          {"severity": "info", "message": "noise"}]}
    summary = ps.render(preview)
    assert "- **error**: config mgmt_subnet_cidr=x: bad" in summary and "noise" not in summary


def test_command_reads_stdin_and_rejects_what_is_not_preview_json(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO((FIXTURES / "update.json").read_text()))
    assert ps.main(["--title", "dev"]) == 0
    assert capsys.readouterr().out.startswith("### Pulumi preview: dev")
    monkeypatch.setattr(sys, "stdin", io.StringIO("error: no stack selected"))
    assert ps.main([]) == 2
    assert "not JSON" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"outputs": {}}'))
    assert ps.main([]) == 2
    assert "no 'steps'" in capsys.readouterr().err


# --- .github/workflows/preview.yml: cannot run here, so its shape is checked ----------------------

WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"


@pytest.fixture(scope="module")
def workflow():
    import yaml

    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow):
    return workflow["jobs"]["preview"]["steps"]


def test_workflow_runs_on_pull_requests_for_every_environment(workflow):
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    assert workflow["permissions"]["pull-requests"] == "write"
    environments = workflow["jobs"]["preview"]["strategy"]["matrix"]["environment"]
    assert environments == ["dev", "prod"]
    for environment in environments:
        assert (ROOT / "stacks" / f"Pulumi.{environment}.yaml").exists()


def test_workflow_previews_with_diff_policy_pack_and_pr_comment(workflow):
    action = next(step for step in _steps(workflow) if str(step.get("uses", "")).startswith("pulumi/actions@"))
    inputs = action["with"]
    assert inputs["command"] == "preview" and inputs["diff"] is True and inputs["comment-on-pr"] is True
    assert inputs["stack-name"] == "${{ matrix.environment }}"
    assert inputs["policyPacks"] == "policy" and (ROOT / inputs["policyPacks"] / "PulumiPolicy.yaml").exists()
    versions = (ROOT / "tools" / "versions.env").read_text()
    assert "PULUMI_CLI_VERSION=" in versions and inputs["pulumi-version"] == "${{ env.PULUMI_CLI_VERSION }}"


def test_workflow_summarizes_with_the_command_and_keeps_secrets_out_of_scripts(workflow):
    runs = "\n".join(step.get("run", "") for step in _steps(workflow))
    assert "pulumi preview --json" in runs and "tools/preview_summary.py" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "make setup" in runs
    assert "secrets." not in runs  # secrets reach scripts through env, never pasted into the script text
