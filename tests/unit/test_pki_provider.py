"""The dynamic providers, called in-process: generation, rotation, renewal decisions, openssl checks."""

import base64
import datetime
import re
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pulumi.dynamic.dynamic import serialize_provider

from components import pki_crypto as crypto
from components import pki_provider
from components.pki_provider import (
    CLOCK_ENV, CertificateAuthorityProvider, ClientCertificateProvider, RandomSecretProvider,
    ca_rollover_notice, ca_rollover_refusal, pki_now,
)

CA_INPUTS = {
    "key_type": "ec", "key_size": 256, "validity_days": 3650, "generation": 1,
    "subject": {"common_name": "Test CA", "organization": "Example"},
}
CLIENT_INPUTS = {
    "key_type": "rsa", "key_size": 2048, "validity_days": 730, "renew_before_days": 30,
    "subject": {"common_name": "octavia-controller"},
}


def create_ca(**overrides):
    return CertificateAuthorityProvider().create({**CA_INPUTS, **overrides}).outs


def issuer_inputs(ca_outs):
    return {
        "issuer_certificate_pem": ca_outs["certificate_pem"],
        "issuer_private_key_pem": ca_outs["private_key_pem"],
        "issuer_private_key_passphrase": ca_outs["private_key_passphrase"],
    }


def client_inputs(ca_outs, **overrides):
    return {**CLIENT_INPUTS, **issuer_inputs(ca_outs), **overrides}


def create_client(ca_outs, **overrides):
    return ClientCertificateProvider().create(client_inputs(ca_outs, **overrides)).outs


def ca_key(ca_outs):
    return crypto.load_private_key(ca_outs["private_key_pem"], ca_outs["private_key_passphrase"])


def bundle_parts(bundle_pem):
    return crypto.load_certificate(bundle_pem), crypto.load_private_key(bundle_pem)


def server_leaf(ca_outs, common_name="amphora-1"):
    """A server certificate the way Octavia issues one to an amphora, signed with the server CA key."""
    key = crypto.generate_private_key("rsa", 2048)
    ca_certificate = crypto.load_certificate(ca_outs["certificate_pem"])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key(ca_outs), hashes.SHA256())
    )
    return crypto.certificate_pem(certificate)


# --- CertificateAuthority -----------------------------------------------------------------------


def test_ca_key_is_stored_only_encrypted_and_opens_with_its_passphrase():
    outs = create_ca()

    assert outs["private_key_pem"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "BEGIN PRIVATE KEY" not in str(outs)
    assert len(outs["private_key_passphrase"]) >= 43  # 32 random bytes
    assert crypto.key_matches_certificate(ca_key(outs), crypto.load_certificate(outs["certificate_pem"]))
    with pytest.raises(ValueError):
        crypto.load_private_key(outs["private_key_pem"], "not-the-passphrase")


def assert_issued_at_the_real_clock(certificate, validity_days, before, after):
    """Valid from the real clock (minus the skew allowance) for validity_days, whatever OCTAVIA_PKI_NOW says."""
    skew = crypto.CLOCK_SKEW_ALLOWANCE
    assert before - skew <= certificate.not_valid_before_utc <= after - skew
    assert certificate.not_valid_before_utc + skew + datetime.timedelta(days=validity_days) == certificate.not_valid_after_utc
    assert crypto.invalid_now(certificate, after) is None


def test_ca_carries_its_expiry_and_subject(monkeypatch):
    monkeypatch.setenv(CLOCK_ENV, "2030-01-01T00:00:00+00:00")  # a rehearsal moves decisions, not validity
    before = crypto.real_now().replace(microsecond=0)
    outs = create_ca(validity_days=100)
    certificate = crypto.load_certificate(outs["certificate_pem"])

    assert_issued_at_the_real_clock(certificate, 100, before, crypto.real_now())
    assert outs["not_after"] == certificate.not_valid_after_utc.isoformat()
    assert certificate.subject.rfc4514_string() == "CN=Test CA,O=Example"
    assert outs["previous_certificate_pem"] is None and outs["previous_private_key_pem"] is None


def test_a_client_certificate_issued_during_a_rehearsal_is_valid_now(monkeypatch):
    """Issue 16: OCTAVIA_PKI_NOW=2028-11-01 used to store a client certificate not valid before 2028."""
    monkeypatch.setenv(CLOCK_ENV, "2028-11-01")
    before = crypto.real_now().replace(microsecond=0)
    ca_outs = create_ca()
    certificate = crypto.load_certificate(create_client(ca_outs)["certificate_pem"])

    assert_issued_at_the_real_clock(certificate, CLIENT_INPUTS["validity_days"], before, crypto.real_now())
    certificate.verify_directly_issued_by(crypto.load_certificate(ca_outs["certificate_pem"]))


def subject_of(outs):
    return crypto.load_certificate(outs["certificate_pem"]).subject.rfc4514_string()


def test_ca_generations_are_told_apart_by_their_subjects():
    provider = CertificateAuthorityProvider()
    first = create_ca()
    second = provider.update("id", first, {**CA_INPUTS, "generation": 2}).outs
    third = provider.update("id", second, {**CA_INPUTS, "generation": 3.0}).outs  # the engine sends floats

    assert subject_of(first) == "CN=Test CA,O=Example"  # generation 1: the configured subject, as before
    assert subject_of(second) == "CN=Test CA G2,O=Example"
    assert subject_of(third) == "CN=Test CA G3,O=Example"
    assert second["subject"] == CA_INPUTS["subject"]  # the input stays as configured: no diff from the suffix
    assert subject_of(create_ca(generation=2)) == "CN=Test CA G2,O=Example"  # a stack created at generation 2


@pytest.mark.parametrize("import_passphrase", [None, "import-secret"])
def test_imported_ca_keeps_its_certificate_and_is_reencrypted(import_passphrase):
    original = create_ca()
    key = ca_key(original)
    key_pem = crypto.encrypted_private_key_pem(key, import_passphrase) if import_passphrase else crypto.private_key_pem(key)

    outs = create_ca(
        existing_certificate_pem=original["certificate_pem"], existing_private_key_pem=key_pem,
        existing_private_key_passphrase=import_passphrase,
    )

    assert outs["certificate_pem"] == original["certificate_pem"]
    assert outs["private_key_passphrase"] not in (original["private_key_passphrase"], import_passphrase)
    assert ca_key(outs).private_numbers() == key.private_numbers()


@pytest.mark.parametrize("change", [
    {}, {"generation": 2}, {"key_type": "rsa", "key_size": 2048}, {"validity_days": 1000},
    {"subject": {"common_name": "Other CA"}}, {"existing_certificate_pem": "-----BEGIN CERTIFICATE-----..."},
])
def test_ca_diff_updates_in_place_on_any_input_change(change):
    olds = create_ca()
    result = CertificateAuthorityProvider().diff("id", olds, {**CA_INPUTS, **change})
    assert result.changes == bool(change)
    assert result.replaces == []


def test_ca_rotation_keeps_the_previous_ca_under_the_same_passphrase():
    provider = CertificateAuthorityProvider()
    first = create_ca()
    second = provider.update("id", first, {**CA_INPUTS, "generation": 2}).outs
    third = provider.update("id", second, {**CA_INPUTS, "generation": 3}).outs

    assert second["certificate_pem"] != first["certificate_pem"]
    assert second["previous_certificate_pem"] == first["certificate_pem"]
    assert second["previous_private_key_pem"] == first["private_key_pem"]
    assert second["private_key_passphrase"] == first["private_key_passphrase"]
    assert crypto.key_matches_certificate(ca_key(second), crypto.load_certificate(second["certificate_pem"]))
    assert third["previous_certificate_pem"] == second["certificate_pem"]
    assert second["generation"] == 2


def test_reimporting_the_same_ca_is_not_a_rotation():
    original = create_ca()
    imported = {
        "existing_certificate_pem": original["certificate_pem"],
        "existing_private_key_pem": crypto.private_key_pem(ca_key(original)),
    }
    first = create_ca(**imported)
    reencrypted = {**imported, "existing_private_key_pem": crypto.encrypted_private_key_pem(ca_key(original), "x"),
                   "existing_private_key_passphrase": "x"}
    second = CertificateAuthorityProvider().update("id", first, {**CA_INPUTS, **reencrypted}).outs

    assert second["certificate_pem"] == first["certificate_pem"]
    assert second["previous_certificate_pem"] is None


# --- CertificateAuthority: a rollover is asked for, and what it means is said ------------------

# The inputs OctaviaPki declares for a CA: its settings plus the labels of the operator's messages.
SERVER_CA = {**CA_INPUTS, "config_key": "pki.server_ca", "keep_previous_until": None}
CLIENT_CA = {**CA_INPUTS, "config_key": "pki.client_ca", "keep_previous_until": None}
TODAY = datetime.date(2027, 3, 1)


def check(olds, news, monkeypatch):
    """The CA provider's check as the engine runs it: (failure reasons, warnings given to the operator)."""
    warned = []
    monkeypatch.setattr(pki_provider, "warn_operator", warned.append)
    result = CertificateAuthorityProvider().check(olds, news)
    assert result.inputs == news
    return [failure.reason for failure in result.failures], warned


@pytest.mark.parametrize("change,said", [
    ({"key_size": 384}, "key_size 256 -> 384"),
    ({"key_type": "rsa", "key_size": 3072}, "key_type ec -> rsa, key_size 256 -> 3072"),
    ({"validity_days": 1825}, "validity_days 3650 -> 1825"),
    ({"subject": {"common_name": "Test CA", "organization": "Other"}}, "subject.organization 'Example' -> 'Other'"),
    ({"subject": {"common_name": "Test CA", "organization": "Example", "country": "DE"}}, "subject.country None -> 'DE'"),
])
def test_a_ca_change_without_a_generation_bump_is_refused_in_one_line_saying_how_to_roll_over(change, said, monkeypatch):
    reasons, warned = check(SERVER_CA, {**SERVER_CA, **change}, monkeypatch)

    assert len(reasons) == 1 and not warned
    assert reasons[0].startswith(f"pki.server_ca: {said} is a CA rollover, but generation is still 1")
    assert "\n" not in reasons[0]
    for how in ("pki.server_ca.generation: 2", "pki.server_ca.keep_previous_until", "fail the amphorae over", "docs/pki.md"):
        assert how in reasons[0]


def test_an_unchanged_ca_or_a_new_one_passes_the_check_silently(monkeypatch):
    assert check(SERVER_CA, dict(SERVER_CA), monkeypatch) == ([], [])
    assert check({}, SERVER_CA, monkeypatch) == ([], [])  # a create: nothing to roll over
    # keep_previous_until alone is no rollover (the component uses it for the trust bundles)
    assert check(SERVER_CA, {**SERVER_CA, "keep_previous_until": "2027-06-30"}, monkeypatch) == ([], [])


def test_a_stack_deployed_before_the_labels_existed_is_unchanged():
    """State of the previous release: the CA's inputs without config_key and keep_previous_until."""
    olds = create_ca()  # outputs: the inputs picked, as the provider stores them
    assert ca_rollover_refusal(olds, SERVER_CA) is None
    assert ca_rollover_notice(olds, SERVER_CA, TODAY) is None
    assert CertificateAuthorityProvider().diff("id", olds, SERVER_CA).changes is False


def test_numbers_are_shown_as_written_though_the_engine_sends_floats():
    reason = ca_rollover_refusal({**SERVER_CA, "key_size": 256.0, "generation": 1.0}, {**SERVER_CA, "key_size": 384.0, "generation": 1.0})
    assert "key_size 256 -> 384" in reason and "generation is still 1:" in reason


def test_a_lower_generation_is_refused():
    reason = ca_rollover_refusal({**CLIENT_CA, "generation": 3}, {**CLIENT_CA, "generation": 2})
    assert reason.startswith("pki.client_ca.generation 3 -> 2: generations only go up") and "set 4" in reason


@pytest.mark.parametrize("key,consequence,acknowledgement", [
    ("pki.client_ca", "running amphorae stop trusting the controllers at once", {}),
    ("pki.server_ca", "the controllers stop trusting running amphorae at once", {"rollover_without_overlap": True}),
])
@pytest.mark.parametrize("keep_until", [None, (TODAY - datetime.timedelta(days=1)).isoformat()], ids=["unset", "past"])
def test_a_rollover_without_a_current_keep_previous_until_warns_that_trust_breaks_at_once(key, consequence, acknowledgement, keep_until, monkeypatch):
    monkeypatch.setenv(CLOCK_ENV, f"{TODAY.isoformat()}T12:00:00+00:00")
    olds = {**CA_INPUTS, "config_key": key, **acknowledgement}
    reasons, [notice] = check(olds, {**olds, "generation": 2, "key_size": 384, "keep_previous_until": keep_until}, monkeypatch)

    assert reasons == []
    assert notice.startswith(f"{key}: rollover, generation 1 -> 2 (key_size 256 -> 384): a new CA key and certificate")
    assert "keep_previous_until is not set (or past)" in notice and consequence in notice
    assert f"set {key}.keep_previous_until" in notice
    assert ("(acknowledged by pki.server_ca.rollover_without_overlap)" in notice) == bool(acknowledgement)


@pytest.mark.parametrize("acknowledgement", [{}, {"rollover_without_overlap": False}], ids=["unset", "false"])
def test_a_server_ca_rollover_without_overlap_needs_an_acknowledgement(acknowledgement, monkeypatch):
    monkeypatch.setenv(CLOCK_ENV, f"{TODAY.isoformat()}T12:00:00+00:00")
    olds = {**SERVER_CA, **acknowledgement}
    reasons, warned = check(olds, {**olds, "generation": 2}, monkeypatch)

    assert warned == [] and reasons == [
        "pki.server_ca: rollover, generation 1 -> 2, without keep_previous_until: the controllers stop trusting running "
        "amphorae at once (server_ca will hold only the new CA, which signed none of their certificates) until each "
        "amphora is failed over. Either set pki.server_ca.keep_previous_until to the day every amphora will have been "
        "failed over, or accept the outage with pki.server_ca.rollover_without_overlap: true (docs/pki.md, CA rollover)"
    ]
    # Either way out passes the check.
    assert check(olds, {**olds, "generation": 2, "keep_previous_until": TODAY.isoformat()}, monkeypatch)[0] == []
    assert check(olds, {**olds, "generation": 2, "rollover_without_overlap": True}, monkeypatch)[0] == []


def test_a_client_ca_rollover_needs_no_acknowledgement_and_a_left_over_one_is_reported(monkeypatch):
    assert check(CLIENT_CA, {**CLIENT_CA, "generation": 2}, monkeypatch)[0] == []

    acknowledged = {**SERVER_CA, "generation": 2, "rollover_without_overlap": True}
    reasons, [warning] = check(acknowledged, acknowledged, monkeypatch)
    assert reasons == [] and warning == (
        "pki.server_ca.rollover_without_overlap is true but no rollover is under way (generation 2): remove it, so "
        "that the next rollover without keep_previous_until asks again"
    )


@pytest.mark.parametrize("key,kept", [
    ("pki.client_ca", "stays in client_ca and keeps signing the controllers' client_cert"),
    ("pki.server_ca", "stays in server_ca, so the controllers keep accepting amphorae it signed"),
])
def test_a_rollover_with_keep_previous_until_says_until_when_the_previous_ca_is_trusted(key, kept):
    olds = {**CA_INPUTS, "config_key": key}
    news = {**olds, "generation": 2, "keep_previous_until": TODAY.isoformat()}
    notice = ca_rollover_notice(olds, news, TODAY)

    assert notice.startswith(f"{key}: rollover, generation 1 -> 2: a new CA key and certificate replace the current one")
    assert f"the previous CA {kept} until keep_previous_until {TODAY.isoformat()} (inclusive)" in notice
    assert "fail over every amphora before then" in notice and "at once" not in notice


@pytest.fixture(scope="module")
def two_imported_cas():
    return [{"existing_certificate_pem": create_ca()["certificate_pem"], "existing_private_key_pem": "k"} for _ in range(2)]


def test_another_imported_certificate_is_a_rollover_too(two_imported_cas, monkeypatch):
    first, second = two_imported_cas
    olds = {**SERVER_CA, **first}
    reasons, _ = check(olds, {**olds, **second}, monkeypatch)
    assert len(reasons) == 1
    assert reasons[0].startswith("pki.server_ca: another imported certificate in existing.certificate_pem is a CA rollover")

    reasons, [notice] = check(olds, {**olds, **second, "generation": 2, "rollover_without_overlap": True}, monkeypatch)
    assert reasons == [] and "rollover, generation 1 -> 2" in notice and "the newly imported CA replaces" in notice

    # Importing in place of a generated CA is one as well.
    reasons, _ = check(SERVER_CA, {**SERVER_CA, **first}, monkeypatch)
    assert "an imported CA (existing) in place of the generated one is a CA rollover" in reasons[0]


def test_a_bump_with_the_same_imported_certificate_is_refused_as_there_is_nothing_to_roll_over(two_imported_cas):
    olds = {**SERVER_CA, **two_imported_cas[0]}
    reason = ca_rollover_refusal(olds, {**olds, "generation": 2})
    assert "existing.certificate_pem is the same imported certificate: there is nothing to roll over" in reason


def test_an_imported_ca_deployed_before_it_had_a_generation_is_unchanged_and_can_roll_over(two_imported_cas):
    first, second = two_imported_cas
    # The previous release declared an imported CA without generation; its config may say any.
    olds = {key: value for key, value in {**CA_INPUTS, **first}.items() if key not in ("generation", "key_type", "key_size", "validity_days", "subject")}
    for generation in (1, 3):
        news = {**olds, "generation": generation, "config_key": "pki.server_ca"}
        assert ca_rollover_refusal(olds, news) is None and ca_rollover_notice(olds, news, TODAY) is None
        assert CertificateAuthorityProvider().diff("id", olds, news).changes is False

    changed = {**olds, **second, "config_key": "pki.server_ca", "rollover_without_overlap": True}
    assert "generation is still 1" in ca_rollover_refusal(olds, {**changed, "generation": 1})
    assert ca_rollover_refusal(olds, {**changed, "generation": 2}) is None
    assert "generation 1 -> 2" in ca_rollover_notice(olds, {**changed, "generation": 2}, TODAY)
    assert CertificateAuthorityProvider().diff("id", olds, {**changed, "generation": 2}).changes is True


def test_outside_the_provider_process_a_warning_goes_to_stderr(capsys):
    pki_provider.warn_operator("pki.server_ca: rollover")
    assert capsys.readouterr().err == "warning: pki.server_ca: rollover\n"


# --- ClientCertificate --------------------------------------------------------------------------


@pytest.mark.parametrize("key_type,key_size", [("rsa", 2048), ("ec", 256)])
def test_client_bundle_holds_a_certificate_of_the_client_ca_and_its_key(key_type, key_size):
    ca_outs = create_ca()
    outs = create_client(ca_outs, key_type=key_type, key_size=key_size)
    certificate, key = bundle_parts(outs["bundle_pem"])

    certificate.verify_directly_issued_by(crypto.load_certificate(ca_outs["certificate_pem"]))
    assert crypto.key_matches_certificate(key, certificate)
    assert outs["certificate_pem"] == crypto.certificate_pem(certificate)
    assert outs["not_after"] == crypto.not_after_iso(certificate)
    assert re.fullmatch(r"-----BEGIN CERTIFICATE-----\n.*-----END PRIVATE KEY-----\n", outs["bundle_pem"], re.S)


def test_a_leaf_signed_with_the_server_ca_key_verifies_against_the_server_ca():
    ca_outs = create_ca()
    leaf = crypto.load_certificate(server_leaf(ca_outs))
    leaf.verify_directly_issued_by(crypto.load_certificate(ca_outs["certificate_pem"]))


@pytest.fixture
def client_at_2030(monkeypatch):
    """A client certificate issued while rehearsing 2030-01-01: issued now all the same, valid 730
    days, renewed 30 days before expiry. The clock is back to real afterwards."""
    monkeypatch.setenv(CLOCK_ENV, "2030-01-01T00:00:00+00:00")
    ca_outs = create_ca()
    issued = ca_outs, create_client(ca_outs)
    monkeypatch.delenv(CLOCK_ENV)
    return issued


@pytest.mark.parametrize("before_expiry,renews", [
    (datetime.timedelta(days=365), False),
    (datetime.timedelta(days=30, seconds=1), False),  # renew_before_days 30
    (datetime.timedelta(days=30), True),
    (-datetime.timedelta(days=150), True),  # already expired
])
def test_client_certificate_is_replaced_once_the_clock_enters_the_renewal_window(client_at_2030, monkeypatch, before_expiry, renews):
    ca_outs, outs = client_at_2030
    clock = datetime.datetime.fromisoformat(outs["not_after"]) - before_expiry
    monkeypatch.setenv(CLOCK_ENV, clock.isoformat())
    result = ClientCertificateProvider().diff("id", outs, client_inputs(ca_outs))
    assert (result.changes, result.replaces) == ((True, ["not_after"]) if renews else (False, []))


@pytest.mark.parametrize("change,replaced", [
    ({"validity_days": 365}, ["validity_days"]),
    ({"key_type": "ec", "key_size": 256}, ["key_type", "key_size"]),
    ({"subject": {"common_name": "other"}}, ["subject"]),
    ({"issuer_certificate_pem": "new CA"}, ["issuer_certificate_pem"]),
])
def test_client_certificate_is_replaced_when_an_issuing_input_changes(client_at_2030, change, replaced):
    ca_outs, outs = client_at_2030
    result = ClientCertificateProvider().diff("id", outs, client_inputs(ca_outs, **change))
    assert (result.changes, result.replaces) == (True, replaced)


def test_changing_only_the_renewal_window_keeps_the_certificate(client_at_2030):
    ca_outs, outs = client_at_2030
    provider = ClientCertificateProvider()
    news = client_inputs(ca_outs, renew_before_days=60)

    result = provider.diff("id", outs, news)
    assert (result.changes, result.replaces) == (True, [])
    updated = provider.update("id", outs, news).outs
    assert updated["renew_before_days"] == 60
    assert updated["bundle_pem"] == outs["bundle_pem"]


# --- RandomSecret, clock, pickling --------------------------------------------------------------


def test_random_secret_is_generated_once_and_replaced_only_for_a_new_length():
    provider = RandomSecretProvider()
    outs = provider.create({"byte_count": 24}).outs

    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", outs["value"])
    assert provider.diff("id", outs, {"byte_count": 24}).changes is False
    assert provider.diff("id", outs, {"byte_count": 32}).replaces == ["byte_count"]


@pytest.mark.parametrize("override,expected", [
    ("2031-05-06", datetime.datetime(2031, 5, 6, tzinfo=datetime.timezone.utc)),
    ("2031-05-06T10:00:00+02:00", datetime.datetime(2031, 5, 6, 8, tzinfo=datetime.timezone.utc)),
])
def test_clock_can_be_moved_with_the_environment(monkeypatch, override, expected):
    monkeypatch.setenv(CLOCK_ENV, override)
    assert pki_now() == expected


def test_clock_defaults_to_the_system_clock(monkeypatch):
    monkeypatch.delenv(CLOCK_ENV, raising=False)
    assert abs(pki_now() - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(seconds=5)


def test_pickled_providers_carry_no_secrets():
    ca_provider, client_provider, random_provider = CertificateAuthorityProvider(), ClientCertificateProvider(), RandomSecretProvider()
    ca_outs = ca_provider.create(CA_INPUTS).outs
    client_outs = client_provider.create(client_inputs(ca_outs)).outs
    random_outs = random_provider.create({"byte_count": 24}).outs
    secrets = [ca_outs["private_key_passphrase"], random_outs["value"], "PRIVATE KEY"]

    for provider in (ca_provider, client_provider, random_provider):
        assert vars(provider) == {}
        pickled = base64.b64decode(serialize_provider(provider))
        assert not [secret for secret in secrets if secret.encode() in pickled]
    assert client_outs  # the client provider ran too


# --- openssl (Debian) ---------------------------------------------------------------------------


def openssl(*args, stdin=None):
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def pki_files(tmp_path, monkeypatch):
    if not shutil.which("openssl"):
        pytest.fail("openssl is not installed: apt-get install -y openssl")
    monkeypatch.delenv(CLOCK_ENV, raising=False)  # openssl verifies against the real clock
    server_ca = create_ca(key_type="rsa", key_size=2048)
    client_ca = create_ca(key_type="ec", key_size=384)
    client = create_client(client_ca)
    files = {
        "server_ca.pem": server_ca["certificate_pem"],
        "server_ca.key": server_ca["private_key_pem"],
        "client_ca.pem": client_ca["certificate_pem"],
        "client.pem": client["bundle_pem"],
        "amphora.pem": server_leaf(server_ca),
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    return tmp_path, server_ca


def test_openssl_parses_every_certificate_with_the_expected_extensions(pki_files):
    directory, _ = pki_files
    ca_texts = [openssl("x509", "-noout", "-text", "-in", str(directory / name)) for name in ("server_ca.pem", "client_ca.pem")]
    client_text = openssl("x509", "-noout", "-text", "-in", str(directory / "client.pem"))

    for text in ca_texts:
        assert re.search(r"Basic Constraints: critical\s+CA:TRUE, pathlen:0", text)
        assert re.search(r"Key Usage: critical\s+Certificate Sign, CRL Sign", text)
        assert "Subject Key Identifier" in text and "Authority Key Identifier" in text
    assert re.search(r"Basic Constraints: critical\s+CA:FALSE", client_text)
    assert re.search(r"Key Usage: critical\s+Digital Signature, Key Encipherment", client_text)
    assert re.search(r"Extended Key Usage:\s+TLS Web Client Authentication", client_text)


def test_openssl_verifies_the_client_certificate_and_an_amphora_certificate(pki_files):
    directory, _ = pki_files
    client = openssl("verify", "-purpose", "sslclient", "-CAfile", str(directory / "client_ca.pem"), str(directory / "client.pem"))
    amphora = openssl("verify", "-purpose", "sslserver", "-CAfile", str(directory / "server_ca.pem"), str(directory / "amphora.pem"))
    assert client.strip().endswith(": OK") and amphora.strip().endswith(": OK")

    wrong_ca = subprocess.run(["openssl", "verify", "-CAfile", str(directory / "server_ca.pem"), str(directory / "client.pem")], capture_output=True)
    assert wrong_ca.returncode != 0


def test_openssl_opens_the_ca_key_with_its_passphrase_and_not_without(pki_files):
    directory, server_ca = pki_files
    key_file = str(directory / "server_ca.key")
    opened = openssl("pkey", "-in", key_file, "-passin", "stdin", stdin=server_ca["private_key_passphrase"] + "\n")
    assert "BEGIN PRIVATE KEY" in opened

    wrong = subprocess.run(["openssl", "pkey", "-in", key_file, "-passin", "pass:wrong"], capture_output=True)
    assert wrong.returncode != 0
