"""The language host (tools/engine/langhost) stops on the engine's SIGINT even when it was started with
SIGINT ignored, as background jobs of non-interactive shells (CI runners, nohup) are: otherwise the
engine waits 5 s before killing it, on every preview and up."""

from __future__ import annotations

import signal
import subprocess
import time

from testbed.stacks import ROOT


def test_language_host_exits_on_sigint_inherited_as_ignored():
    host = subprocess.Popen([str(ROOT / "bin/pulumi-language-python")], stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert host.stdout.readline().strip().isdigit()  # the port it serves on: it is up
        sent = time.monotonic()
        host.send_signal(signal.SIGINT)
        host.wait(timeout=10)
        assert time.monotonic() - sent < 2
    finally:
        host.kill()
