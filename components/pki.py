"""The certificates and secrets Octavia's amphora driver needs, generated once and kept in state.

Interface
---------
    from components.pki import OctaviaPki
    from config.pki import parse_pki_settings

    pki = OctaviaPki("octavia-pki", parse_pki_settings(section), pulumi.ResourceOptions(parent=foundation))

The settings (config.pki) are validated before any resource exists; key sizes and validities are
held to components.pki_crypto.BOUNDS, the table the policy pack enforces. An imported CA's key
below the generated minimum is a warning (PkiSettings.warnings), which OctaviaPki reports.

OctaviaPki attributes (pulumi.Output[str]; (s) = secret) and the octavia.conf option each feeds:
    ca_certificate                    [certificates] ca_certificate (server CA, signs amphora certs)
    ca_private_key (s)                [certificates] ca_private_key, PEM encrypted with the passphrase
    ca_private_key_passphrase (s)     [certificates] ca_private_key_passphrase
    server_ca                         [haproxy_amphora] server_ca (server CA trust bundle)
    client_ca                         [controller_worker] client_ca (client CA trust bundle)
    client_cert (s)                   [haproxy_amphora] client_cert (certificate + key, one PEM)
    server_certs_key_passphrase (s)   [certificates] server_certs_key_passphrase (32 base64url chars)
    heartbeat_key (s)                 [health_manager] heartbeat_key
    server_ca_expires_at, client_ca_expires_at, client_cert_expires_at   ISO 8601 UTC

The clock of the decisions (renewals, rollover dates, expiry warnings) can be moved with
OCTAVIA_PKI_NOW, see components/pki_provider.py; certificates are issued at the real clock, and on
every preview and up each stored certificate the outputs carry (the CAs, a previous CA still in a
trust bundle, the client certificate) must be valid at the real clock, or the program stops with
one line naming it and what to do.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Optional

import pulumi

from components import pki_crypto as crypto
from components.pki_crypto import SERVER_CERTS_KEY_PASSPHRASE_BYTES
from components.pki_provider import CertificateAuthority, ClientCertificate, RandomSecret, pki_now, renewal_due
from config.pki import CaSettings, ClientCertSettings, PkiSettings

# --- Component -----------------------------------------------------------------------------------

HEARTBEAT_KEY_BYTES = 32


def _ca_inputs(ca: CaSettings, config_key: str) -> dict[str, Any]:
    # Labels for the provider's rollover messages only: they never cause an update by themselves.
    labels = {
        "config_key": config_key,
        "keep_previous_until": ca.keep_previous_until.isoformat() if ca.keep_previous_until else None,
    }
    if config_key.endswith("server_ca"):
        labels["rollover_without_overlap"] = ca.rollover_without_overlap
    if ca.existing:
        return {
            "existing_certificate_pem": ca.existing.certificate_pem,
            "existing_private_key_pem": pulumi.Output.secret(ca.existing.private_key_pem),
            "existing_private_key_passphrase": (
                pulumi.Output.secret(ca.existing.private_key_passphrase) if ca.existing.private_key_passphrase else None
            ),
            "generation": ca.generation,
            **labels,
        }
    return {
        "key_type": ca.key_type, "key_size": ca.key_size, "validity_days": ca.validity_days,
        "generation": ca.generation, "subject": dataclasses.asdict(ca.subject), **labels,
    }


def _client_cert_inputs(cert: ClientCertSettings) -> dict[str, Any]:
    return {
        "key_type": cert.key_type, "key_size": cert.key_size, "validity_days": cert.validity_days,
        "renew_before_days": cert.renew_before_days, "subject": dataclasses.asdict(cert.subject),
    }


def keeps_previous(ca: CaSettings, today: datetime.date) -> bool:
    """Whether the previous CA still belongs in the trust bundle (and signs, for the client CA)."""
    return ca.keep_previous_until is not None and today <= ca.keep_previous_until


def _previous_or_current(previous: pulumi.Output, current: pulumi.Output) -> pulumi.Output:
    return pulumi.Output.all(previous, current).apply(lambda values: values[0] or values[1])


def _trust_bundle(ca: CertificateAuthority, keep_previous: bool) -> pulumi.Output[str]:
    if not keep_previous:
        return ca.certificate_pem.apply(crypto.pem_bundle)
    return pulumi.Output.all(ca.certificate_pem, ca.previous_certificate_pem).apply(lambda pems: crypto.pem_bundle(*pems))


def _resource_name(urn: str) -> str:
    return urn.split("::")[-1]


def _ca_fixes(ca: CaSettings, config_key: str) -> dict[str, Any]:
    """What to do when a CA's stored certificate (current or previous) is not valid now, by case."""
    next_generation = f"{config_key}.generation: {ca.generation + 1}"
    if ca.existing:
        current = lambda urn, why: (f"import a CA valid now in {config_key}.existing together with {next_generation} "
                                    "(docs/pki.md, CA rollover)")
    else:
        current = lambda urn, why: (
            f"issue it again with `pulumi up --replace '{urn}'` (nothing can have trusted it yet; a protected CA needs "
            f"`pulumi state unprotect '{urn}'` first)" if "not valid until" in why
            else f"roll it over: {next_generation} (docs/pki.md, CA rollover)"
        )
    previous = lambda urn, why: (f"remove {config_key}.keep_previous_until, and the next up drops the previous CA "
                                 "from the trust bundle (docs/pki.md, CA rollover)")
    return {"current": current, "previous": previous}


def valid_now(value: pulumi.Output, resource: pulumi.Resource, what: str, pem: pulumi.Output, fix) -> pulumi.Output:
    """value, once the stored certificate pem (None: none) is valid at the real clock.

    Otherwise the program stops (preview and up alike) with one line naming the certificate, its
    resource and fix(urn, why), what to do. pem is unknown, and not checked, when preview plans to
    issue it again: a certificate is always issued valid from the real clock.
    """
    def check(args: list) -> Any:
        urn, certificate_pem, result = args
        if certificate_pem:
            why = crypto.invalid_now(crypto.load_certificate(certificate_pem), crypto.real_now())
            if why:
                raise pulumi.RunError(f"pki: the {what} ({_resource_name(urn)}) {why}: {fix(urn, why)}")
        return result

    return pulumi.Output.all(resource.urn, pem, value).apply(check)


class OctaviaPki(pulumi.ComponentResource):
    """Server CA, client CA, controller client certificate, heartbeat key and passphrases."""

    def __init__(self, name: str, settings: PkiSettings, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:pki:OctaviaPki", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        today = pki_now().date()

        for warning in settings.warnings:
            pulumi.log.warn(warning, resource=self)
        server_ca = CertificateAuthority(f"{name}-server-ca", _ca_inputs(settings.server_ca, "pki.server_ca"), child)
        client_ca = CertificateAuthority(f"{name}-client-ca", _ca_inputs(settings.client_ca, "pki.client_ca"), child)
        client_keeps_previous = keeps_previous(settings.client_ca, today)
        signer_cert, signer_key = client_ca.certificate_pem, client_ca.private_key_pem
        if client_keeps_previous:
            # Amphorae booted before the rollover trust only the previous client CA.
            signer_cert = _previous_or_current(client_ca.previous_certificate_pem, client_ca.certificate_pem)
            signer_key = _previous_or_current(client_ca.previous_private_key_pem, client_ca.private_key_pem)
        client_cert = ClientCertificate(
            f"{name}-client-cert",
            {
                **_client_cert_inputs(settings.client_cert),
                "issuer_certificate_pem": signer_cert,
                "issuer_private_key_pem": signer_key,
                "issuer_private_key_passphrase": client_ca.private_key_passphrase,
            },
            child,
        )

        # Every certificate an output carries is valid now at the real clock, or the program stops.
        server_keeps_previous = keeps_previous(settings.server_ca, today)
        server_fix, client_fix = _ca_fixes(settings.server_ca, "pki.server_ca"), _ca_fixes(settings.client_ca, "pki.client_ca")
        self.ca_certificate = valid_now(server_ca.certificate_pem, server_ca, "server CA", server_ca.certificate_pem, server_fix["current"])
        self.ca_private_key = pulumi.Output.secret(server_ca.private_key_pem)
        self.ca_private_key_passphrase = pulumi.Output.secret(server_ca.private_key_passphrase)
        self.server_ca = _trust_bundle(server_ca, server_keeps_previous)
        if server_keeps_previous:
            self.server_ca = valid_now(self.server_ca, server_ca, "previous server CA, still in server_ca,",
                                       server_ca.previous_certificate_pem, server_fix["previous"])
        self.client_ca = valid_now(_trust_bundle(client_ca, client_keeps_previous), client_ca, "client CA",
                                   client_ca.certificate_pem, client_fix["current"])
        if client_keeps_previous:
            self.client_ca = valid_now(self.client_ca, client_ca, "previous client CA, still in client_ca,",
                                       client_ca.previous_certificate_pem, client_fix["previous"])
        self.client_cert = pulumi.Output.secret(valid_now(
            client_cert.bundle_pem, client_cert, "client certificate", client_cert.certificate_pem,
            lambda urn, why: f"issue it again with `pulumi up --replace '{urn}'`",
        ))
        self.server_certs_key_passphrase = self._generated_unless_given(
            settings.server_certs_key_passphrase, f"{name}-server-certs-key-passphrase", SERVER_CERTS_KEY_PASSPHRASE_BYTES
        )
        self.heartbeat_key = self._generated_unless_given(settings.heartbeat_key, f"{name}-heartbeat-key", HEARTBEAT_KEY_BYTES)
        self.server_ca_expires_at = server_ca.not_after
        self.client_ca_expires_at = client_ca.not_after
        self.client_cert_expires_at = client_cert.not_after

        self._warn_if_expiring("server", server_ca.not_after, settings.server_ca.expiry_warning_days)
        self._warn_if_expiring("client", client_ca.not_after, settings.client_ca.expiry_warning_days)

        self.register_outputs({
            "ca_certificate": self.ca_certificate,
            "ca_private_key": self.ca_private_key,
            "ca_private_key_passphrase": self.ca_private_key_passphrase,
            "server_ca": self.server_ca,
            "client_ca": self.client_ca,
            "client_cert": self.client_cert,
            "server_certs_key_passphrase": self.server_certs_key_passphrase,
            "heartbeat_key": self.heartbeat_key,
            "server_ca_expires_at": self.server_ca_expires_at,
            "client_ca_expires_at": self.client_ca_expires_at,
            "client_cert_expires_at": self.client_cert_expires_at,
        })

    def _generated_unless_given(self, given: Optional[str], resource_name: str, byte_count: int) -> pulumi.Output[str]:
        if given is not None:
            return pulumi.Output.secret(given)
        return pulumi.Output.secret(RandomSecret(resource_name, byte_count, pulumi.ResourceOptions(parent=self)).value)

    def _warn_if_expiring(self, label: str, not_after: pulumi.Output[str], warning_days: int) -> None:
        def warn(expires: Optional[str]) -> None:
            if expires and renewal_due(expires, warning_days, pki_now()):
                pulumi.log.warn(
                    f"the {label} CA expires {expires}: roll it over (bump pki.{label}_ca.generation, "
                    f"set keep_previous_until) and fail over the amphorae, see docs/pki.md",
                    resource=self,
                )

        not_after.apply(warn)
