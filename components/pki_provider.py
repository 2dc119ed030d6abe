"""Pulumi dynamic resources that generate the Octavia PKI once and keep it in (encrypted) state.

Three resources, each a thin layer over components.pki_crypto:

- CertificateAuthority: a generated (or imported) CA whose private key is stored only encrypted
  with a generated passphrase. Changing any input rotates it *in place* (an update, not a
  replace) so the previous certificate and key stay in state for a rollover overlap.
- ClientCertificate: an end-entity client certificate signed by a given CA. Replaced when an
  input changes or when the clock reaches not_after - renew_before_days.
- RandomSecret: a base64url random string, generated once.

Providers are pickled into state with dill (by reference to this module, so the provider process
must be able to import `components.pki_provider`: it runs in the project directory). They hold no
attributes: every secret travels as a resource input or output, never in the pickled provider.

Clock: the providers and the OctaviaPki component read "now" from the environment variable
OCTAVIA_PKI_NOW (ISO 8601, e.g. 2028-11-01T00:00:00+00:00; a bare date means midnight UTC) when set,
else the system clock. Tests and rehearsals of a renewal move the clock with it.
"""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any, Optional

import pulumi
from pulumi import dynamic

from components import pki_crypto as crypto

CLOCK_ENV = "OCTAVIA_PKI_NOW"

# Resource type tokens become pulumi-python:dynamic/pki:<name>.
DYNAMIC_MODULE = "pki"


def pki_now() -> datetime.datetime:
    """The current time in UTC, or the OCTAVIA_PKI_NOW override."""
    override = os.environ.get(CLOCK_ENV)
    if not override:
        return datetime.datetime.now(datetime.timezone.utc)
    moment = datetime.datetime.fromisoformat(override)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


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


def _issue_ca(props: dict[str, Any], passphrase: str) -> dict[str, Any]:
    """The CA's certificate and passphrase-encrypted key: imported if given, else generated."""
    if props.get("existing_certificate_pem"):
        certificate = crypto.load_certificate(props["existing_certificate_pem"])
        key = crypto.load_private_key(
            props["existing_private_key_pem"], props.get("existing_private_key_passphrase")
        )
    else:
        key = crypto.generate_private_key(props["key_type"], int(props["key_size"]))
        subject = crypto.Subject(**props["subject"])
        certificate = crypto.build_ca_certificate(key, subject, int(props["validity_days"]), pki_now())
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

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=bool(_changed(olds, news, CA_INPUTS)), replaces=[])

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
            crypto.load_certificate(props["issuer_certificate_pem"]), issuer_key, pki_now(),
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
