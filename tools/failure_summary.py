"""Pass `pulumi up`/`preview` output through, so that when a run fails the last lines the operator
reads are the failing resource and the cloud's own error. `make up` and `make preview` pipe the
CLI's output through it (standard output and error).

With a policy pack (`--policy-pack policy`, which `make up` always passes), a resource that fails
cancels the deployment, and every resource the program registers after that (typically the
default provider of the PKI's dynamic resources) is reported as failed with `failed to run
remediation: context canceled`: the engine asks the policy pack to remediate it with the
already-cancelled context (pulumi pkg/v3 resource/deploy/step_generator.go, in the engine we
build from the upstream module and do not patch). That line, its own diagnostics block and its
`**failed**` progress line say nothing about the cause and can come last. They are dropped here,
and a failed run ends with

    error: pulumi up failed at:
      openstack:compute:Flavor (octavia-amp-flavor-flavor): Error creating openstack_compute_flavor_v2 ...: got 409 instead: {... "Flavor with name ... already exists."}

one line per failing resource, the provider's error without its Go source prefix. Lines are
passed through as they come (the live progress stays live). Exit status: 0; the Makefile's
`pipefail` keeps pulumi's own.

    pulumi up ... 2>&1 | python -m tools.failure_summary up   (or preview)
"""

from __future__ import annotations

import re
import signal
import sys
from typing import Iterable, Iterator, TextIO

CANCELLED_REMEDIATION = "failed to run remediation: context canceled"
# Errors that only say that the run failed, not why.
NOISE = (CANCELLED_REMEDIATION, "update failed", "preview failed", "destroy failed", "refresh failed")
BLOCK_HEADER = re.compile(r"^  (?P<type>\S+) \((?P<name>.+)\):$")
PROGRESS_CANCELLED = re.compile(r"^\s*(?P<label>\S+ \S+)\s+error: " + re.escape(CANCELLED_REMEDIATION) + r"\s*$")
ERRORED = re.compile(r"^(?P<indent>\s+)(?P<count>\d+) errored$")
GO_PREFIX = re.compile(r"^(?:\S+\.go:\d+: )?(?:sdk\.helper_schema: )?")
PROVIDER_SUFFIX = re.compile(r": provider=\S+@\S+$")


def clean(message: str) -> str:
    return PROVIDER_SUFFIX.sub("", GO_PREFIX.sub("", message.strip())).strip()


def cause(errors: list[str]) -> str | None:
    """The one-line cause of a diagnostics block's error lines, or None if it is only noise."""
    bullets = [clean(e.lstrip("* \t")) for e in errors
               if e.lstrip("\t ").startswith("* ") and not e.rstrip().endswith("error occurred:")]
    if bullets:
        return "; ".join(dict.fromkeys(bullets))
    meaningful = [clean(e) for e in errors if clean(e) not in NOISE and not clean(e).endswith("error occurred:")]
    return meaningful[0] if meaningful else None


def summarise(lines: Iterable[str], operation: str = "up") -> Iterator[str]:
    """The output lines to show (newline-terminated), followed by the failure summary if any."""
    cancelled: set[str] = set()  # "type name" of resources failed only by the cancelled remediation
    failures: list[str] = []
    in_diagnostics = False
    block: list[str] = []  # a diagnostics block being read: header, then its lines

    def flush_block() -> Iterator[str]:
        if not block:
            return
        header = BLOCK_HEADER.match(block[0].rstrip("\n"))
        body = block[1:]
        errors, current = [], None
        for line in body:
            text = line.rstrip("\n")
            if text.startswith("    error: "):
                current = text[len("    error: "):]
                errors.append(current)
            elif text.startswith("    \t") and current is not None:
                errors.append(text.strip())
        only_cancelled = errors and all(e.strip() == CANCELLED_REMEDIATION for e in errors) and len(errors) == sum(
            1 for line in body if line.startswith("    "))
        if not only_cancelled:
            yield from block
            found = cause(errors) if header else None
            if found:
                failures.append(f"{header['type']} ({header['name']}): {found}")
        block.clear()

    for line in lines:
        if not line.endswith("\n"):
            line += "\n"
        text = line.rstrip("\n")
        if not in_diagnostics:
            match = PROGRESS_CANCELLED.match(text)
            if match:
                cancelled.add(match["label"])
                continue
            if any(text.strip() == f"{label} **failed** 1 error" for label in cancelled):
                continue
            errored = ERRORED.match(text)
            if errored and cancelled:  # the summary count, without the cancelled remediations
                left = int(errored["count"]) - len(cancelled)
                if left > 0:
                    yield f"{errored['indent']}{left} errored\n"
                continue
            if text == "Diagnostics:":
                in_diagnostics = True
            yield line
            continue
        # In the diagnostics: blocks of a header and indented lines, ended by a blank line.
        if BLOCK_HEADER.match(text):
            yield from flush_block()
            block.append(line)
        elif block and (text.startswith("    ") or text == ""):
            block.append(line)
            if text == "":
                yield from flush_block()
        else:
            yield from flush_block()
            if text and not text.startswith(" "):
                in_diagnostics = text == "Diagnostics:"
            yield line
    yield from flush_block()
    if failures:
        yield f"\nerror: pulumi {operation} failed at:\n"
        for failure in failures:
            yield f"  {failure}\n"


def main(argv: list[str], stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    # Ctrl-C reaches the whole pipeline: pulumi cancels gracefully and goes on printing, so this
    # end of the pipe must stay until pulumi closes it (a broken pipe would kill pulumi mid-cancel).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in summarise(stdin, *argv[:1]):
        stdout.write(line)
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
