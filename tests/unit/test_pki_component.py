"""OctaviaPki under Pulumi mocks whose resources run the real provider code in-process.

Mocks never start the dynamic provider process, so new_resource below calls the providers'
create (and, to stand in for an earlier rollover, the CA provider's update) itself.
"""

import dataclasses
import datetime
import re
import threading

import pulumi
import pytest

from components import pki_crypto as crypto
from components.pki import OctaviaPki
from config.pki import ExistingCa, parse_pki_settings
from components.pki_provider import (
    CLOCK_ENV, CertificateAuthorityProvider, ClientCertificateProvider, RandomSecretProvider,
)
from pulumi.dynamic.dynamic import PROVIDER_KEY
from pulumi.runtime.rpc import unwrap_rpc_secret

PROVIDERS = {
    "pulumi-python:dynamic/pki:CertificateAuthority": CertificateAuthorityProvider,
    "pulumi-python:dynamic/pki:ClientCertificate": ClientCertificateProvider,
    "pulumi-python:dynamic/pki:RandomSecret": RandomSecretProvider,
}
FAST_KEYS = {"key_type": "ec", "key_size": 256}
FAST_SETTINGS = {"server_ca": FAST_KEYS, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS}
SECRET_ATTRIBUTES = ("ca_private_key", "ca_private_key_passphrase", "client_cert", "server_certs_key_passphrase", "heartbeat_key")
PUBLIC_ATTRIBUTES = ("ca_certificate", "server_ca", "client_ca", "server_ca_expires_at", "client_ca_expires_at", "client_cert_expires_at")


class ProviderMocks(pulumi.runtime.Mocks):
    """Runs each dynamic resource's provider; CAs named in rotated_cas have rolled over once."""

    def __init__(self, rotated_cas=()):
        self.rotated_cas, self.registrations = set(rotated_cas), []

    def new_resource(self, args):
        self.registrations.append(args)
        if args.typ not in PROVIDERS:  # the component itself
            return "", {}
        provider = PROVIDERS[args.typ]()
        # The engine hands a dynamic provider its secrets unwrapped (it accepts no secrets).
        inputs = {key: unwrap_rpc_secret(value) for key, value in args.inputs.items() if key != PROVIDER_KEY}
        created = provider.create(inputs)
        outs = created.outs
        if args.name in self.rotated_cas:
            outs = provider.update(created.id, outs, {**inputs, "generation": inputs["generation"] + 1}).outs
        return created.id, outs

    def call(self, args):
        return {}


@pytest.fixture
def mocks(request, monkeypatch):
    monkeypatch.delenv(CLOCK_ENV, raising=False)
    instance = ProviderMocks(getattr(request, "param", ()))
    pulumi.runtime.set_mocks(instance, preview=False)
    return instance


def resolve(pki, names):
    """Outputs by attribute name, each as (value, is_secret)."""
    outputs = [getattr(pki, name) for name in names]
    secrets = [pulumi.Output.from_input(output.is_secret()) for output in outputs]
    return pulumi.Output.all(*outputs, *secrets).apply(
        lambda values: {name: (values[i], values[i + len(names)]) for i, name in enumerate(names)}
    )


def certificates(bundle):
    return [crypto.load_certificate(block) for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", bundle, re.S)]


@pulumi.runtime.test
def test_secrets_are_secret_and_certificates_are_not(mocks):
    pki = OctaviaPki("octavia-pki", parse_pki_settings(FAST_SETTINGS))

    def check(resolved):
        assert {name for name, (_, secret) in resolved.items() if secret} == set(SECRET_ATTRIBUTES)
        assert all(value for value, _ in resolved.values())

    return resolve(pki, SECRET_ATTRIBUTES + PUBLIC_ATTRIBUTES).apply(check)


@pulumi.runtime.test
def test_outputs_form_a_working_octavia_pki(mocks):
    pki = OctaviaPki("octavia-pki", parse_pki_settings(FAST_SETTINGS))

    def check(resolved):
        value = {name: v for name, (v, _) in resolved.items()}
        server_ca = crypto.load_certificate(value["ca_certificate"])
        ca_key = crypto.load_private_key(value["ca_private_key"], value["ca_private_key_passphrase"])
        assert "BEGIN ENCRYPTED PRIVATE KEY" in value["ca_private_key"]
        assert crypto.key_matches_certificate(ca_key, server_ca)
        assert certificates(value["server_ca"]) == [server_ca]

        [client_ca] = certificates(value["client_ca"])
        client_certificate, client_key = crypto.load_certificate(value["client_cert"]), crypto.load_private_key(value["client_cert"])
        client_certificate.verify_directly_issued_by(client_ca)
        assert crypto.key_matches_certificate(client_key, client_certificate)
        assert client_ca != server_ca

        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", value["server_certs_key_passphrase"])
        assert len(value["heartbeat_key"]) >= 43
        assert value["client_cert_expires_at"] == crypto.not_after_iso(client_certificate)
        assert value["server_ca_expires_at"] == crypto.not_after_iso(server_ca)

    return resolve(pki, SECRET_ATTRIBUTES + PUBLIC_ATTRIBUTES).apply(check)


@pulumi.runtime.test
def test_resources_are_children_named_after_the_component(mocks):
    pki = OctaviaPki("octavia-pki", parse_pki_settings(FAST_SETTINGS))

    def check(urns):
        component_urn, *child_urns = urns
        assert component_urn.endswith("$octavia-infra:pki:OctaviaPki::octavia-pki")
        assert sorted(urn.split("::")[-1] for urn in child_urns) == [
            "octavia-pki-client-ca", "octavia-pki-client-cert", "octavia-pki-heartbeat-key",
            "octavia-pki-server-ca", "octavia-pki-server-certs-key-passphrase",
        ]
        assert all("octavia-infra:pki:OctaviaPki$pulumi-python:dynamic/pki:" in urn for urn in child_urns)

    # The SDK's own record of children: mocks do not report a resource's parent.
    return pulumi.Output.all(pki.urn, *[child.urn for child in pki._childResources]).apply(check)


@pulumi.runtime.test
def test_given_heartbeat_key_and_passphrase_are_used_instead_of_generated_ones(mocks):
    given = {"heartbeat_key": "the-old-heartbeat-key", "server_certs_key_passphrase": "A" * 32}
    pki = OctaviaPki("octavia-pki", parse_pki_settings({**FAST_SETTINGS, **given}))

    def check(resolved):
        assert resolved == {name: (value, True) for name, value in given.items()}
        assert not [args for args in mocks.registrations if args.typ.endswith("RandomSecret")]

    return resolve(pki, tuple(given)).apply(check)


@pulumi.runtime.test
def test_imported_server_ca_is_handed_to_octavia(mocks):
    key = crypto.generate_private_key("ec", 256)
    certificate = crypto.build_ca_certificate(key, crypto.Subject("Old server CA"), 100, datetime.datetime.now(datetime.timezone.utc))
    imported = ExistingCa(crypto.certificate_pem(certificate), crypto.encrypted_private_key_pem(key, "old"), "old")
    settings = parse_pki_settings(FAST_SETTINGS)
    pki = OctaviaPki("octavia-pki", dataclasses.replace(settings, server_ca=dataclasses.replace(settings.server_ca, existing=imported)))

    def check(resolved):
        assert resolved["ca_certificate"][0] == imported.certificate_pem
        opened = crypto.load_private_key(resolved["ca_private_key"][0], resolved["ca_private_key_passphrase"][0])
        assert opened.private_numbers() == key.private_numbers()

    return resolve(pki, ("ca_certificate", "ca_private_key", "ca_private_key_passphrase")).apply(check)


@pulumi.runtime.test
def test_the_cas_carry_the_labels_of_the_providers_rollover_messages(mocks):
    keep = {"keep_previous_until": "2027-06-30"}
    pki = OctaviaPki("octavia-pki", parse_pki_settings({**FAST_SETTINGS, "client_ca": {**FAST_KEYS, **keep}}))

    def check(_):
        inputs = {args.name: args.inputs for args in mocks.registrations if args.typ.endswith("CertificateAuthority")}
        assert inputs["octavia-pki-server-ca"]["config_key"] == "pki.server_ca"
        assert inputs["octavia-pki-server-ca"].get("keep_previous_until") is None
        assert inputs["octavia-pki-server-ca"]["rollover_without_overlap"] is False
        assert "rollover_without_overlap" not in inputs["octavia-pki-client-ca"]
        assert (inputs["octavia-pki-client-ca"]["config_key"], inputs["octavia-pki-client-ca"]["keep_previous_until"]) == \
            ("pki.client_ca", "2027-06-30")

    return pulumi.Output.all(pki.server_ca, pki.client_ca).apply(check)


@pulumi.runtime.test
def test_an_imported_ca_below_the_generated_minimum_is_reported_as_a_warning_of_the_component(mocks, monkeypatch):
    key = crypto.generate_private_key("rsa", 2048)
    certificate = crypto.build_ca_certificate(key, crypto.Subject("Brownfield CA"), 3650, datetime.datetime.now(datetime.timezone.utc))
    existing = {"certificate_pem": crypto.certificate_pem(certificate), "private_key_pem": crypto.private_key_pem(key)}
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, **_: warnings.append((message, resource)))
    pki = OctaviaPki("octavia-pki", parse_pki_settings({**FAST_SETTINGS, "server_ca": {"existing": existing}}))

    def check(imported_certificate):
        assert imported_certificate == existing["certificate_pem"]
        [(message, resource)] = warnings
        assert message.startswith("pki.server_ca.existing: the imported CA's rsa key of 2048 bits is below the minimum of 3072")
        assert resource is pki

    return pki.ca_certificate.apply(check)


# The PKI's clock is pinned for these tests, so a run that crosses midnight sees the same "today".
TODAY = datetime.date(2027, 3, 1)
ROLLOVER_CASES = [
    (TODAY + datetime.timedelta(days=1), True),
    (TODAY, True),
    (None, False),  # keep_previous_until removed once past (a past date is refused, tests/unit/test_pki_settings.py)
]


@pytest.mark.parametrize("mocks", [("octavia-pki-server-ca", "octavia-pki-client-ca")], indirect=True)
@pytest.mark.parametrize("keep_until,overlap", ROLLOVER_CASES)
@pulumi.runtime.test
def test_rolled_over_cas_keep_the_previous_ca_until_the_configured_date(mocks, keep_until, overlap, monkeypatch):
    monkeypatch.setenv(CLOCK_ENV, f"{TODAY.isoformat()}T12:00:00+00:00")
    rollover = {**FAST_KEYS, "keep_previous_until": keep_until}
    pki = OctaviaPki("octavia-pki", parse_pki_settings({**FAST_SETTINGS, "server_ca": rollover, "client_ca": rollover}))

    def check(resolved):
        value = {name: v for name, (v, _) in resolved.items()}
        server_bundle, client_bundle = certificates(value["server_ca"]), certificates(value["client_ca"])
        current_server_ca = crypto.load_certificate(value["ca_certificate"])
        assert server_bundle[0] == current_server_ca
        assert len(server_bundle) == len(client_bundle) == (2 if overlap else 1)

        # During the overlap the controllers keep a client certificate of the previous client CA,
        # which amphorae booted before the rollover still trust.
        signer = client_bundle[-1] if overlap else client_bundle[0]
        crypto.load_certificate(value["client_cert"]).verify_directly_issued_by(signer)

    return resolve(pki, ("ca_certificate", "server_ca", "client_ca", "client_cert")).apply(check)


@pytest.mark.parametrize("mocks", [()], indirect=True)
@pulumi.runtime.test
def test_keep_previous_until_without_a_rollover_changes_nothing(mocks, monkeypatch):
    monkeypatch.setenv(CLOCK_ENV, f"{TODAY.isoformat()}T12:00:00+00:00")
    pki = OctaviaPki("octavia-pki", parse_pki_settings({
        **FAST_SETTINGS, "client_ca": {**FAST_KEYS, "keep_previous_until": TODAY + datetime.timedelta(days=30)},
    }))

    def check(resolved):
        [client_ca] = certificates(resolved["client_ca"][0])
        crypto.load_certificate(resolved["client_cert"][0]).verify_directly_issued_by(client_ca)

    return resolve(pki, ("client_ca", "client_cert")).apply(check)


@pytest.mark.parametrize("days_ahead,warned", [(3650 - 366, []), (3650 - 364, ["client", "server"])])
@pulumi.runtime.test
def test_cas_close_to_expiry_warn_on_every_run(mocks, monkeypatch, days_ahead, warned):
    # The CAs are issued now (default validity 3650 days, warning 365 days before expiry); the
    # component then looks at them from days_ahead in the future.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days_ahead)
    monkeypatch.setattr("components.pki.pki_now", lambda: later)
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, **_: warnings.append(message))
    settings = {"server_ca": {**FAST_KEYS}, "client_ca": {**FAST_KEYS}, "client_cert": FAST_KEYS}
    pki = OctaviaPki("octavia-pki", parse_pki_settings(settings))

    def check(_):
        assert sorted(message.split()[1] for message in warnings) == warned
        assert all("generation" in message for message in warnings)

    return pulumi.Output.all(pki.server_ca_expires_at, pki.client_ca_expires_at).apply(check)


# --- Stored certificates are checked against the real clock on every run ----------------------------


class StoredMocks(ProviderMocks):
    """As ProviderMocks, but the resources named in future are "stored" as the previous release
    issued them under OCTAVIA_PKI_NOW=2028-11-01: not valid before 2028. A CA named in future_previous
    was issued so and then rolled over at the real clock: its previous certificate is the 2028 one."""

    IN_2028 = datetime.datetime(2028, 11, 1, tzinfo=datetime.timezone.utc)

    def __init__(self, future, future_previous, monkeypatch):
        super().__init__(rotated_cas=future_previous)
        self.future = set(future) | set(future_previous)
        self.issuing_in_2028 = threading.local()  # resources register concurrently: per thread
        monkeypatch.setattr("components.pki_provider.real_now", self.clock)

    def clock(self):
        return self.IN_2028 if getattr(self.issuing_in_2028, "on", False) else crypto.real_now()

    def new_resource(self, args):
        if args.name not in self.future:
            return super().new_resource(args)
        provider = PROVIDERS[args.typ]()
        inputs = {key: unwrap_rpc_secret(value) for key, value in args.inputs.items() if key != PROVIDER_KEY}
        self.issuing_in_2028.on = True
        try:
            created = provider.create(inputs)
        finally:
            self.issuing_in_2028.on = False
        if args.name in self.rotated_cas:
            return created.id, provider.update(created.id, created.outs, {**inputs, "generation": inputs["generation"] + 1}).outs
        return created.id, created.outs


STORED_NOT_VALID = [
    ("octavia-pki-client-cert", {},
     r"pki: the client certificate \(octavia-pki-client-cert\) is not valid until 2028-10-31T23:00:00\+00:00 \(now .*\): "
     r"issue it again with `pulumi up --replace 'urn:pulumi:stack::project::octavia-infra:pki:OctaviaPki\$pulumi-python:dynamic/pki:ClientCertificate::octavia-pki-client-cert'`$"),
    ("octavia-pki-server-ca", {},
     r"pki: the server CA \(octavia-pki-server-ca\) is not valid until 2028-10-31T23:00:00\+00:00 \(now .*\): issue it again with "
     r"`pulumi up --replace '.*::octavia-pki-server-ca'` \(nothing can have trusted it yet; a protected CA needs "
     r"`pulumi state unprotect '.*::octavia-pki-server-ca'` first\)$"),
    ("octavia-pki-client-ca", {"client_ca": {**FAST_KEYS, "keep_previous_until": "2999-01-01"}},
     r"pki: the previous client CA, still in client_ca, \(octavia-pki-client-ca\) is not valid until 2028-10-31T23:00:00\+00:00 "
     r"\(now .*\): remove pki.client_ca.keep_previous_until, and the next up drops the previous CA from the trust bundle"),
]


@pytest.mark.parametrize("stored,settings,message", STORED_NOT_VALID, ids=[name for name, _, _ in STORED_NOT_VALID])
def test_a_stored_certificate_not_valid_now_stops_the_program_naming_it_and_the_fix(stored, settings, message, monkeypatch):
    """Issue 16: after a rehearsal had stored a certificate valid from 2028, previews said unchanged."""
    monkeypatch.delenv(CLOCK_ENV, raising=False)
    previous = "keep_previous_until" in str(settings)
    mocks = StoredMocks([] if previous else [stored], [stored] if previous else [], monkeypatch)
    pulumi.runtime.set_mocks(mocks, preview=False)

    @pulumi.runtime.test
    def run():
        pki = OctaviaPki("octavia-pki", parse_pki_settings({**FAST_SETTINGS, **settings}))
        return pulumi.Output.all(pki.ca_certificate, pki.server_ca, pki.client_ca, pki.client_cert)

    with pytest.raises(pulumi.RunError) as stopped:
        run()
    assert re.match(message, str(stopped.value)), str(stopped.value)
    assert "\n" not in str(stopped.value)
