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


def plan(name):
    """The same preview's plan, cut to the root stack's (its output diff)."""
    return json.loads((FIXTURES / "plans" / f"{name}.json").read_text())


def tally(summary):
    match = re.search(r"(\d+) to create · (\d+) to update · (\d+) to replace · (\d+) to delete\*\* \((\d+) unchanged\)", summary)
    return tuple(int(n) for n in match.groups())


@pytest.mark.parametrize("name", ["no-change", "update", "replace", "delete", "pki-rollover", "pki-renewal",
                                  "image-rotation"])
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


# --- why certificates are replaced, CA rollovers, images, stack outputs ------------------------------

def test_certificate_renewal_says_why():
    """The engine reports a renewal as a replacement for `not_after`, an output, with no input changed."""
    summary = ps.render(load("pki-renewal"))
    row = next(line for line in summary.splitlines() if "`octavia-pki-client-cert`" in line)
    assert row.startswith("| 🔁 **replace** |")
    assert re.search(r"\*\*renewal due\*\*: the certificate expires `2028-[0-9T:+-]+`, within renew_before_days "
                     r"\(`30` days\) of now \|$", row), row
    assert "—" not in row


def test_ca_rollover_is_flagged_and_explains_the_reissued_certificate():
    summary = ps.render(load("pki-rollover"))
    ca_row = next(line for line in summary.splitlines() if line.startswith("| ✏️ update | `octavia-pki-client-ca` |"))
    assert ("⚠️ **CA rollover** (generation `1` → `2`): no keep_previous_until: running amphorae stop trusting the "
            "controllers at once, until each is failed over") in ca_row
    cert_row = next(line for line in summary.splitlines() if line.startswith("| 🔁 **replace** | `octavia-pki-client-cert` |"))
    assert "**issuing CA rolls over** (`octavia-pki-client-ca` generation `1` → `2`): reissued by the new CA" in cert_row
    # the CA's own warning is listed whole, with what it means for running amphorae
    assert "running amphorae stop trusting the controllers at once" in summary.split("Diagnostics:")[1]


def _ca_step(config_key, keep_previous_until=None):
    step = _step("octavia-pki-server-ca", {"generation": 1, "config_key": config_key},
                 {"generation": 2, "config_key": config_key, "keep_previous_until": keep_previous_until})
    step["urn"] = step["urn"].replace("octavia-pki-server-ca", config_key.replace(".", "-"))
    return step


@pytest.mark.parametrize("config_key, keep, meaning", [
    ("pki.server_ca", None, "the controllers stop trusting running amphorae at once"),
    ("pki.client_ca", None, "running amphorae stop trusting the controllers at once"),
    ("pki.server_ca", "2030-01-31", "the previous CA is kept until keep_previous_until 2030-01-31: fail over every"),
])
def test_ca_rollover_meaning(config_key, keep, meaning):
    summary = ps.render({"steps": [_ca_step(config_key, keep)], "changeSummary": {"update": 1}})
    assert "**CA rollover** (generation `1` → `2`)" in summary and meaning in summary


def test_ca_update_without_rollover_is_not_flagged():
    step = _step("ca", {"generation": 2, "validity_days": 10}, {"generation": 2, "validity_days": 20})
    assert "rollover" not in ps.render({"steps": [step]})


def test_images_created_and_deleted_are_listed():
    summary = ps.render(load("image-rotation"))
    images = summary.split("Images:\n")[1].split("\n\n")[0].splitlines()
    assert len(images) == 2
    assert re.fullmatch(r"- ➕ created: `[a-z0-9-]+-amphora-x64-haproxy-test2` \(`octavia-amp-image-test2`\)", images[0])
    assert re.fullmatch(r"- ❌ deleted: `[a-z0-9-]+-amphora-x64-haproxy-test` \(`octavia-amp-image-test`\)", images[1])
    assert "Images:" not in ps.render(load("pki-rollover"))


def test_a_replaced_image_is_both_created_and_deleted():
    urn = "urn:pulumi:dev::octavia-infra::openstack:images/image:Image::octavia-amp-image-v1"
    step = {"op": "replace", "urn": urn, "replaceReasons": ["diskFormat"],
            "oldState": {"inputs": {"name": "amp-v1"}, "outputs": {"name": "amp-v1"}},
            "newState": {"inputs": {"name": "amp-v1"}}}
    summary = ps.render({"steps": [step]})
    assert "- ➕ created: `amp-v1` (`octavia-amp-image-v1`)\n- ❌ deleted: `amp-v1` (`octavia-amp-image-v1`)" in summary


def outputs_of(summary):
    return summary.split("Outputs:\n")[1].split("\n\n")[0].splitlines()


def test_changed_outputs_are_listed_secret_ones_as_changed_secret():
    renewal = outputs_of(ps.render(load("pki-renewal"), plan=plan("pki-renewal")))
    assert renewal[0] == "- `client_cert`: changed (secret)" and len(renewal) == 2
    assert re.fullmatch(r"- `client_cert_expires_at`: `2028-[0-9T:+-]+` → \(known after apply\)", renewal[1])
    lines = outputs_of(ps.render(load("image-rotation"), plan=plan("image-rotation")))
    assert "- `octavia_conf`: changed (secret)" in lines
    assert any(re.fullmatch(r"- `amp_image_id`: `[0-9a-f-]{36}` → \(known after apply\)", line) for line in lines)
    for name in ("no-change", "update", "delete"):
        assert outputs_of(ps.render(load(name), plan=plan(name))) == ["- no changes"]


def test_output_changes_from_the_plan():
    secret = {ps.SECRET_SIG_KEY: ps.SECRET_SIG, "ciphertext": "v1:abc"}
    root = "urn:pulumi:dev::octavia-infra::pulumi:pulumi:Stack::octavia-infra-dev"
    preview = {"steps": [{"op": "same", "urn": root, "oldState": {"outputs": {
        "controller_ip_port_list": "10.0.0.10:5555", "health_manager_ips": {"a": "10.0.0.10"},
        "heartbeat_key": "[secret]", "client_cert": "[secret]", "gone": "x", "same": "y"}}}]}
    diff = {"updates": {"controller_ip_port_list": "10.0.0.10:5555, 10.0.0.11:5555",
                        "health_manager_ips": {"a": "10.0.0.10", "b": "10.0.0.11"}, "heartbeat_key": secret},
            "adds": {"new_secret": secret, "new_plain": "z"}, "deletes": ["gone"]}
    summary = ps.render(preview, plan={"resourcePlans": {root: {"goal": {"outputDiff": diff}}}})
    assert outputs_of(summary) == [
        "- `controller_ip_port_list`: `10.0.0.10:5555` → `10.0.0.10:5555, 10.0.0.11:5555`",
        "- `gone`: removed",
        "- `health_manager_ips.b`: added: `10.0.0.11`",
        "- `heartbeat_key`: changed (secret)",
        "- `new_plain`: added: `z`",
        "- `new_secret`: added (secret)",
    ]
    assert "v1:abc" not in summary


def test_outputs_need_the_plan():
    assert "Outputs:" not in ps.render(load("pki-renewal"))
    assert "Outputs:" not in ps.render(load("pki-renewal"), plan={"resourcePlans": {}})


def test_command_reads_the_plan_and_goes_on_without_one(tmp_path, capsys):
    assert ps.main(["--plan", str(FIXTURES / "plans" / "pki-renewal.json"), str(FIXTURES / "pki-renewal.json")]) == 0
    assert "- `client_cert`: changed (secret)" in capsys.readouterr().out
    # a failed preview writes no plan: the summary (with the preview's diagnostics) still comes out
    assert ps.main(["--plan", str(tmp_path / "absent.json"), str(FIXTURES / "update.json")]) == 0
    captured = capsys.readouterr()
    assert "octavia-mgmt-subnet" in captured.out and "Outputs:" not in captured.out
    assert "stack outputs not listed" in captured.err


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("plans/*.json")), ids=lambda path: path.stem)
def test_plan_fixtures_hold_no_plaintext_secret(fixture):
    text = fixture.read_text()
    assert "PRIVATE KEY" not in text and '"plaintext"' not in text
    assert (FIXTURES / fixture.name).exists()


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
