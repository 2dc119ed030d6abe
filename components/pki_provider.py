"""Pulumi dynamic resources that generate the Octavia PKI once and keep it in (encrypted) state.

Three resources, each a thin layer over components.pki_crypto:

- CertificateAuthority: a generated (or imported) CA whose private key is stored only encrypted
  with a generated passphrase. A new CA (a rollover) is an update in place, not a replace, so the
  previous certificate and key stay in state for a rollover overlap. A rollover must be asked for:
  its check refuses a change of what defines the CA (key, validity, subject, imported certificate)
  without a higher `generation`, and warns, when generation goes up, what the rollover means for
  running amphorae (ca_rollover_refusal, ca_rollover_notice).
- ClientCertificate: an end-entity client certificate signed by a given CA. Replaced when an
  input changes or when the clock reaches not_after - renew_before_days.
- RandomSecret: a base64url random string, generated once.

Providers are pickled into state with dill (by reference to this module, so the provider process
must be able to import `components.pki_provider`: it runs in the project directory). They hold no
attributes: every secret travels as a resource input or output, never in the pickled provider.

Clock: the providers and the OctaviaPki component decide what is due (a renewal, the end of a
rollover overlap, an expiry warning) at "now" from the environment variable OCTAVIA_PKI_NOW (ISO 8601,
e.g. 2028-11-01T00:00:00+00:00; a bare date means midnight UTC) when set, else the system clock.
Tests and rehearsals of a renewal move the clock with it. Certificates are always issued at the real
clock (crypto.real_now, minus the skew allowance), so a rehearsal never stores one not valid yet.
"""

from __future__ import annotations

import datetime
import sys
import uuid
from typing import Any, Optional

import pulumi
from pulumi import dynamic

from components import pki_crypto as crypto
from components.pki_crypto import pki_now, real_now

CLOCK_ENV = crypto.CLOCK_ENV  # the clock lives in pki_crypto, which the policy pack reads too

# Resource type tokens become pulumi-python:dynamic/pki:<name>.
DYNAMIC_MODULE = "pki"


def renewal_due(not_after_iso: str, renew_before_days: int, now: datetime.datetime) -> bool:
    not_after = datetime.datetime.fromisoformat(not_after_iso)
    return now >= not_after - datetime.timedelta(days=renew_before_days)


def _pick(props: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: props.get(key) for key in keys}


def _changed(olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if olds.get(key) != news.get(key)]


# --- CertificateAuthority -------------------------------------------------------------------------

CA_INPUTS = (
    "key_type", "key_size", "validity_days", "subject", "generation",
    "existing_certificate_pem", "existing_private_key_pem", "existing_private_key_passphrase",
)
CA_OUTPUTS = (
    "certificate_pem", "private_key_pem", "private_key_passphrase", "not_after",
    "previous_certificate_pem", "previous_private_key_pem",
)
CA_SECRETS = (
    "private_key_pem", "private_key_passphrase", "previous_private_key_pem",
    "existing_private_key_pem", "existing_private_key_passphrase",
)
CA_PASSPHRASE_BYTES = 32
# More inputs only word the operator's messages or acknowledge a rollover, so they are not CA_INPUTS
# and never cause an update: config_key, the config key the CA comes from ("pki.server_ca"),
# keep_previous_until (ISO date or None) and, for the server CA, rollover_without_overlap (bool).


def _generation(value: Any) -> Optional[int]:
    return None if value is None else int(value)


def _shown(value: Any) -> Any:
    """A value as the operator wrote it: numbers reach the provider as floats (256.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _ca_generations(olds: dict[str, Any], news: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(old generation, new generation, what defines the CA and changed, worded for the operator).

    An imported CA deployed before generation applied to imported CAs has none in state: it was
    generation 1 when its certificate changes now, and needs no rollover when it does not.
    """
    defining = _defining_changes(olds, news)
    new = _generation(news.get("generation")) or 1
    old = _generation(olds.get("generation"))
    if old is None:
        old = 1 if defining else new
    return old, new, defining


def _defining_changes(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """What defines the CA and changed (key, validity, subject, imported certificate), worded.

    A change of any of these issues a new CA: a rollover, which generation must announce.
    """
    was_imported, is_imported = bool(olds.get("existing_certificate_pem")), bool(news.get("existing_certificate_pem"))
    if was_imported != is_imported:
        return ["an imported CA (existing) in place of the generated one" if is_imported
                else "a generated CA in place of the imported one (existing removed)"]
    if is_imported:
        same = olds.get("existing_certificate_pem") == news.get("existing_certificate_pem")
        return [] if same else ["another imported certificate in existing.certificate_pem"]
    changes = []
    for key in ("key_type", "key_size", "validity_days"):
        if olds.get(key) != news.get(key):
            changes.append(f"{key} {_shown(olds.get(key))} -> {_shown(news.get(key))}")
    old_subject, new_subject = olds.get("subject") or {}, news.get("subject") or {}
    for key in sorted(set(old_subject) | set(new_subject)):
        if old_subject.get(key) != new_subject.get(key):
            changes.append(f"subject.{key} {old_subject.get(key)!r} -> {new_subject.get(key)!r}")
    return changes


def _config_key(news: dict[str, Any]) -> str:
    return news.get("config_key") or "pki.<ca>"


def _keeps_previous(news: dict[str, Any], today: datetime.date) -> bool:
    keep_until = news.get("keep_previous_until")
    return bool(keep_until) and today <= datetime.date.fromisoformat(str(keep_until)[:10])


def _is_server_ca(news: dict[str, Any]) -> bool:
    return _config_key(news).endswith("server_ca")


SERVER_CA_TAKEOVER = ("the controllers stop trusting running amphorae at once (server_ca will hold only the new "
                      "CA, which signed none of their certificates)")


def ca_rollover_refusal(olds: dict[str, Any], news: dict[str, Any], today: Optional[datetime.date] = None) -> Optional[str]:
    """Why an update of a CA is refused (one line for the operator), or None.

    A change of what defines the CA needs a higher generation, and generations never go back. A
    server CA rollover without an overlap (keep_previous_until) cuts every running amphora off at
    once: it needs rollover_without_overlap: true.
    """
    old, new, defining = _ca_generations(olds, news)
    key = _config_key(news)
    today = today or pki_now().date()
    if new < old:
        return (f"{key}.generation {old} -> {new}: generations only go up (a rolled-over CA's key is gone); "
                f"keep {old}, or set {old + 1} to roll over again (docs/pki.md, CA rollover)")
    if new > old and not defining and news.get("existing_certificate_pem"):
        return (f"{key}.generation {old} -> {new}, but existing.certificate_pem is the same imported certificate: "
                f"there is nothing to roll over; import the new CA with the bump, or keep generation {old}")
    if defining and new == old:
        return (f"{key}: {', '.join(defining)} is a CA rollover, but generation is still {old}: to roll over, "
                f"set {key}.generation: {old + 1} and {key}.keep_previous_until (the day every amphora will have "
                "been failed over), then fail the amphorae over (docs/pki.md, CA rollover); to keep this CA, "
                "undo the change")
    if new > old and _is_server_ca(news) and not _keeps_previous(news, today) and news.get("rollover_without_overlap") is not True:
        return (f"{key}: rollover, generation {old} -> {new}, without keep_previous_until: {SERVER_CA_TAKEOVER} "
                f"until each amphora is failed over. Either set {key}.keep_previous_until to the day every amphora "
                f"will have been failed over, or accept the outage with {key}.rollover_without_overlap: true "
                "(docs/pki.md, CA rollover)")
    return None


def ca_rollover_notice(olds: dict[str, Any], news: dict[str, Any], today: datetime.date) -> Optional[str]:
    """What a rollover (generation going up) means for running amphorae, or None if it is none."""
    old, new, defining = _ca_generations(olds, news)
    if new <= old:
        return None
    key = _config_key(news)
    client = key.endswith("client_ca")
    what = f" ({', '.join(defining)})" if defining else ""
    new_ca = "the newly imported CA replaces" if news.get("existing_certificate_pem") else "a new CA key and certificate replace"
    head = f"{key}: rollover, generation {old} -> {new}{what}: {new_ca} the current one"
    keep_until = news.get("keep_previous_until")
    if _keeps_previous(news, today):
        kept = ("stays in client_ca and keeps signing the controllers' client_cert" if client
                else "stays in server_ca, so the controllers keep accepting amphorae it signed")
        return (f"{head}; the previous CA {kept} until keep_previous_until {keep_until} (inclusive): fail over "
                "every amphora before then (openstack loadbalancer amphora failover; docs/pki.md, CA rollover)")
    consequence = (
        "running amphorae stop trusting the controllers at once (they trust only the current client CA, and "
        "the controllers' client_cert will come from the new one)" if client else SERVER_CA_TAKEOVER
    )
    acknowledged = f" (acknowledged by {key}.rollover_without_overlap)" if news.get("rollover_without_overlap") is True else ""
    return (f"{head}; keep_previous_until is not set (or past), so {consequence} until each amphora is failed "
            f"over{acknowledged}; to keep them working meanwhile, set {key}.keep_previous_until to the day every "
            "amphora will have been failed over (docs/pki.md, CA rollover)")


def stale_acknowledgement(olds: dict[str, Any], news: dict[str, Any]) -> Optional[str]:
    """rollover_without_overlap: true left set when no rollover is under way, or None."""
    old, new, _ = _ca_generations(olds, news)
    if new > old or news.get("rollover_without_overlap") is not True:
        return None
    key = _config_key(news)
    return (f"{key}.rollover_without_overlap is true but no rollover is under way (generation {new}): remove it, "
            "so that the next rollover without keep_previous_until asks again")


def _engine_address() -> Optional[str]:
    """The engine's address when this runs in the dynamic provider process, else None.

    The engine starts every provider plugin with its own address as the first argument (providers
    log through it); Python's dynamic provider (`python -m pulumi.dynamic`) does not use it.
    """
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name == "pulumi.dynamic.__main__" and len(sys.argv) > 1:
        return sys.argv[1]
    return None


def warn_operator(message: str) -> None:
    """A warning in the engine's diagnostics (the CLI prints it as `warning: ...`).

    Outside the provider process (tests calling the provider in-process), or should the engine
    not answer, it goes to stderr, which the engine shows as a plain line.
    """
    address = _engine_address()
    if address:
        import grpc
        from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

        try:
            with grpc.insecure_channel(address) as channel:
                engine_pb2_grpc.EngineStub(channel).Log(engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message))
            return
        except grpc.RpcError:
            pass
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _issue_ca(props: dict[str, Any], passphrase: str) -> dict[str, Any]:
    """The CA's certificate and passphrase-encrypted key: imported if given, else generated."""
    if props.get("existing_certificate_pem"):
        certificate = crypto.load_certificate(props["existing_certificate_pem"])
        key = crypto.load_private_key(
            props["existing_private_key_pem"], props.get("existing_private_key_passphrase")
        )
    else:
        key = crypto.generate_private_key(props["key_type"], int(props["key_size"]))
        subject = crypto.Subject(**props["subject"]).of_generation(_generation(props.get("generation")) or 1)
        certificate = crypto.build_ca_certificate(key, subject, int(props["validity_days"]), real_now())
    return {
        "certificate_pem": crypto.certificate_pem(certificate),
        "private_key_pem": crypto.encrypted_private_key_pem(key, passphrase),
        "private_key_passphrase": passphrase,
        "not_after": crypto.not_after_iso(certificate),
    }


class CertificateAuthorityProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        issued = _issue_ca(props, crypto.random_secret(CA_PASSPHRASE_BYTES))
        outs = {**_pick(props, CA_INPUTS), **issued,
                "previous_certificate_pem": None, "previous_private_key_pem": None}
        return dynamic.CreateResult(uuid.uuid4().hex, outs)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """On an update (olds = the inputs in state): refuse an unannounced rollover, warn of a real one."""
        if olds:
            today = pki_now().date()
            refusal = ca_rollover_refusal(olds, news, today)
            if refusal:
                return dynamic.CheckResult(news, [dynamic.CheckFailure("", refusal)])
            notice = ca_rollover_notice(olds, news, today) or stale_acknowledgement(olds, news)
            if notice:
                warn_operator(notice)
        return dynamic.CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        old_generation, _, _ = _ca_generations(olds, news)
        return dynamic.DiffResult(changes=bool(_changed({**olds, "generation": old_generation}, news, CA_INPUTS)), replaces=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Rotate: issue a new CA under the same passphrase and keep the old one as previous."""
        issued = _issue_ca(news, olds["private_key_passphrase"])
        rotated = issued["certificate_pem"] != olds["certificate_pem"]
        previous = olds if rotated else {
            "certificate_pem": olds.get("previous_certificate_pem"),
            "private_key_pem": olds.get("previous_private_key_pem"),
        }
        return dynamic.UpdateResult({
            **_pick(news, CA_INPUTS), **issued,
            "previous_certificate_pem": previous["certificate_pem"],
            "previous_private_key_pem": previous["private_key_pem"],
        })


class CertificateAuthority(dynamic.Resource, module=DYNAMIC_MODULE, name="CertificateAuthority"):
    """A CA; private_key_pem is encrypted with private_key_passphrase."""

    certificate_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    private_key_passphrase: pulumi.Output[str]
    not_after: pulumi.Output[str]
    previous_certificate_pem: pulumi.Output[Optional[str]]
    previous_private_key_pem: pulumi.Output[Optional[str]]

    def __init__(self, name: str, inputs: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(
            CertificateAuthorityProvider(), name, {**dict.fromkeys(CA_OUTPUTS), **inputs},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(CA_SECRETS))),
        )


# --- ClientCertificate ----------------------------------------------------------------------------

CLIENT_ISSUING_INPUTS = (
    "key_type", "key_size", "validity_days", "subject",
    "issuer_certificate_pem", "issuer_private_key_pem", "issuer_private_key_passphrase",
)
CLIENT_INPUTS = CLIENT_ISSUING_INPUTS + ("renew_before_days",)
CLIENT_OUTPUTS = ("certificate_pem", "bundle_pem", "not_after")
CLIENT_SECRETS = ("bundle_pem", "issuer_private_key_pem", "issuer_private_key_passphrase")


class ClientCertificateProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        issuer_key = crypto.load_private_key(
            props["issuer_private_key_pem"], props["issuer_private_key_passphrase"]
        )
        key = crypto.generate_private_key(props["key_type"], int(props["key_size"]))
        certificate = crypto.build_client_certificate(
            key, crypto.Subject(**props["subject"]), int(props["validity_days"]),
            crypto.load_certificate(props["issuer_certificate_pem"]), issuer_key, real_now(),
        )
        cert_pem = crypto.certificate_pem(certificate)
        outs = {
            **_pick(props, CLIENT_INPUTS),
            "certificate_pem": cert_pem,
            # Octavia's [haproxy_amphora] client_cert is one file: certificate, then unencrypted key.
            "bundle_pem": crypto.pem_bundle(cert_pem, crypto.private_key_pem(key)),
            "not_after": crypto.not_after_iso(certificate),
        }
        return dynamic.CreateResult(uuid.uuid4().hex, outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = _changed(olds, news, CLIENT_ISSUING_INPUTS)
        if not replaces and renewal_due(olds["not_after"], int(news["renew_before_days"]), pki_now()):
            replaces = ["not_after"]
        changes = bool(replaces) or olds.get("renew_before_days") != news.get("renew_before_days")
        return dynamic.DiffResult(changes=changes, replaces=replaces)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        # Only renew_before_days can change without a replacement: keep the certificate.
        return dynamic.UpdateResult({**olds, **_pick(news, CLIENT_INPUTS)})


class ClientCertificate(dynamic.Resource, module=DYNAMIC_MODULE, name="ClientCertificate"):
    """A TLS client certificate; bundle_pem holds the certificate and its unencrypted key."""

    certificate_pem: pulumi.Output[str]
    bundle_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(self, name: str, inputs: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(
            ClientCertificateProvider(), name, {**dict.fromkeys(CLIENT_OUTPUTS), **inputs},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(CLIENT_SECRETS))),
        )


# --- RandomSecret ---------------------------------------------------------------------------------


class RandomSecretProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        value = crypto.random_secret(int(props["byte_count"]))
        return dynamic.CreateResult(uuid.uuid4().hex, {"byte_count": props["byte_count"], "value": value})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = _changed(olds, news, ("byte_count",))
        return dynamic.DiffResult(changes=bool(replaces), replaces=replaces)


class RandomSecret(dynamic.Resource, module=DYNAMIC_MODULE, name="RandomSecret"):
    """byte_count random bytes as base64url text, generated once."""

    value: pulumi.Output[str]

    def __init__(self, name: str, byte_count: int, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(
            RandomSecretProvider(), name, {"byte_count": byte_count, "value": None},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["value"])),
        )
