"""tools/failure_summary.py on the output of a real failed `pulumi up --policy-pack policy`
(tests/fixtures/failed_up_with_policy_pack.txt: the devcloud's Nova refused the amphora flavor,
and the PKI's dynamic provider, registered after that, was reported as `failed to run
remediation: context canceled`). The engine run: tests/integration/test_policy.py."""

import io
import signal
import subprocess
import sys
from pathlib import Path

from tools.failure_summary import CANCELLED_REMEDIATION, main, summarise

ROOT = Path(__file__).resolve().parents[2]
FAILED_UP = (ROOT / "tests" / "fixtures" / "failed_up_with_policy_pack.txt").read_text()
NOVA_409 = ('openstack:compute:Flavor (octavia-amp-flavor-flavor): Error creating openstack_compute_flavor_v2 '
            'local-e0a5ff-amphora: Expected HTTP response code [200 201] when accessing [POST '
            'http://127.0.0.1:8774/v2.1/flavors], but got 409 instead: {"conflictingRequest": {"code": 409, '
            '"message": "Flavor with name local-e0a5ff-amphora already exists."}}')


def test_the_cancelled_remediation_goes_and_the_last_lines_are_the_resource_and_novas_error():
    assert CANCELLED_REMEDIATION in FAILED_UP  # the fixture has what it is about
    out = "".join(summarise(io.StringIO(FAILED_UP)))
    assert CANCELLED_REMEDIATION not in out and "pulumi-python default **failed**" not in out
    assert "pulumi:providers:pulumi-python (default)" not in out
    assert out.rstrip("\n").splitlines()[-2:] == ["error: pulumi up failed at:", f"  {NOVA_409}"]
    assert "    1 errored\n" in out and "2 errored" not in out
    # everything else passes through unchanged
    expected = FAILED_UP
    for gone in ("    pulumi:providers:pulumi-python default  error: failed to run remediation: context canceled\n",
                 "    pulumi:providers:pulumi-python default **failed** 1 error\n",
                 "  pulumi:providers:pulumi-python (default):\n    error: failed to run remediation: context canceled\n\n"):
        assert gone in expected
        expected = expected.replace(gone, "")
    expected = expected.replace("    2 errored\n", "    1 errored\n") + f"\nerror: pulumi up failed at:\n  {NOVA_409}\n"
    assert out == expected


def test_a_successful_run_passes_through_unchanged():
    text = "Updating (dev):\n +  pulumi:pulumi:Stack x created\nResources:\n    + 3 created\n\nDuration: 2s\n"
    assert "".join(summarise(io.StringIO(text))) == text


def test_a_program_error_is_summarised_from_the_stack_block():
    text = ("Diagnostics:\n  pulumi:pulumi:Stack (octavia-infra-dev):\n"
            "    error: config amp_images[0]='x.qcow2': a file whose file exists\n\n"
            "Resources:\n    1 errored\n")
    out = "".join(summarise(io.StringIO(text), "preview")).splitlines()
    assert out[-2:] == ["error: pulumi preview failed at:",
                        "  pulumi:pulumi:Stack (octavia-infra-dev): config amp_images[0]='x.qcow2': a file whose file exists"]


def test_the_filter_outlives_ctrl_c():
    """Ctrl-C reaches every process of the pipeline; pulumi keeps printing while it cancels."""
    filter_ = subprocess.Popen([sys.executable, "-m", "tools.failure_summary", "up"], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    filter_.stdin.write("first\n")
    filter_.stdin.flush()
    assert filter_.stdout.readline() == "first\n"  # started, SIGINT handler in place
    filter_.send_signal(signal.SIGINT)
    out, _ = filter_.communicate("after the cancel\n", timeout=30)
    assert filter_.returncode == 0 and out == "after the cancel\n"


def test_main_writes_through(capsys):
    out = io.StringIO()
    assert main(["up"], io.StringIO("a\nb"), out) == 0 and out.getvalue() == "a\nb\n"
