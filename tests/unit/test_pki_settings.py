"""The `pki` config section: defaults, and every bad value rejected with its key before any resource."""

import datetime

import pytest
import yaml

from components import pki_crypto as crypto
from config.errors import ConfigError
from config.pki import SECRET_SHOWN_AS, CaSettings, ExistingCa, Subject, parse_pki_settings

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def make_ca(key_type="ec", key_size=256, is_ca=True):
    key = crypto.generate_private_key(key_type, key_size)
    certificate = crypto.build_ca_certificate(key, Subject("Imported CA"), 3650, NOW)
    if not is_ca:
        certificate = crypto.build_client_certificate(key, Subject("leaf"), 30, certificate, key, NOW)
    return crypto.certificate_pem(certificate), key


@pytest.fixture(scope="module")
def imported():
    certificate_pem, key = make_ca()
    other_certificate_pem, _ = make_ca()
    leaf_pem, leaf_key = make_ca(is_ca=False)
    return {
        "certificate_pem": certificate_pem,
        "private_key_pem": crypto.private_key_pem(key),
        "encrypted_private_key_pem": crypto.encrypted_private_key_pem(key, "s3cret"),
        "other_certificate_pem": other_certificate_pem,
        "leaf_pem": leaf_pem,
        "leaf_key_pem": crypto.private_key_pem(leaf_key),
    }


def test_empty_section_gives_documented_defaults():
    settings = parse_pki_settings(None)

    assert settings.server_ca.subject.common_name == "Octavia amphora server CA"
    assert settings.client_ca.subject.common_name == "Octavia controller client CA"
    assert settings.client_cert.subject.common_name == "octavia-controller"
    assert settings.heartbeat_key is None and settings.server_certs_key_passphrase is None
    assert (settings.server_ca.key_type, settings.server_ca.key_size, settings.server_ca.validity_days) == ("rsa", 4096, 3650)
    assert (settings.client_cert.key_type, settings.client_cert.key_size) == ("rsa", 3072)
    assert (settings.client_cert.validity_days, settings.client_cert.renew_before_days) == (730, 30)
    assert settings.client_ca.subject.common_name == "Octavia controller client CA"
    assert settings.server_ca.existing is None and settings.heartbeat_key is None


@pytest.fixture
def before_mid_2027(monkeypatch):
    """The PKI clock at 2027-03-01, so keep_previous_until 2027-06-30 lies ahead."""
    monkeypatch.setenv(crypto.CLOCK_ENV, "2027-03-01")


def test_full_section_from_yaml_is_read_into_settings(before_mid_2027):
    settings = parse_pki_settings(yaml.safe_load("""
        server_ca:
          key_type: ec
          key_size: 384
          validity_days: 1825
          expiry_warning_days: 180
          generation: 2
          keep_previous_until: 2027-06-30
          subject: {common_name: Server CA, organization: Example, organizational_unit: Cloud, country: DE}
        client_cert:
          key_type: ec
          renew_before_days: 60
          subject: {common_name: ctl}
        heartbeat_key: kept-from-the-old-deployment
        server_certs_key_passphrase: abcdefghijklmnopqrstuvwxyz012-_9
    """))

    assert settings.server_ca == CaSettings(
        subject=Subject("Server CA", "Example", "Cloud", "DE"), key_type="ec", key_size=384,
        validity_days=1825, expiry_warning_days=180, generation=2, keep_previous_until=datetime.date(2027, 6, 30),
    )
    assert (settings.client_cert.key_type, settings.client_cert.key_size) == ("ec", 256)  # P-256 when no size given
    assert settings.client_cert.renew_before_days == 60 and settings.client_cert.subject == Subject("ctl")
    assert settings.heartbeat_key == "kept-from-the-old-deployment"


@pytest.mark.parametrize("value", ["2027-06-30", "2027-06-30T00:00:00Z", datetime.date(2027, 6, 30)])
def test_keep_previous_until_accepts_dates_as_config_delivers_them(value, before_mid_2027):
    settings = parse_pki_settings({"client_ca": {"keep_previous_until": value}})
    assert settings.client_ca.keep_previous_until == datetime.date(2027, 6, 30)


@pytest.mark.parametrize("ca,what", [
    ("server_ca", "drops the previous CA from server_ca"),
    ("client_ca", "drops the previous CA from client_ca and reissues client_cert from the new client CA"),
])
def test_a_past_keep_previous_until_is_refused_saying_to_remove_it(ca, what, monkeypatch):
    monkeypatch.setenv(crypto.CLOCK_ENV, "2027-07-01")
    assert parse_pki_settings({ca: {"keep_previous_until": "2027-07-01"}})  # the last day still counts
    with pytest.raises(ConfigError) as error:
        parse_pki_settings({ca: {"keep_previous_until": "2027-06-30"}})
    assert str(error.value) == (
        f"config pki.{ca}.keep_previous_until='2027-06-30': is past (today is 2027-07-01): the rollover overlap is "
        f"over; remove the key pki.{ca}.keep_previous_until from the stack file, and the next up {what} "
        "(docs/pki.md, CA rollover)"
    )


def test_without_a_moved_clock_past_means_before_the_real_today(monkeypatch):
    monkeypatch.delenv(crypto.CLOCK_ENV, raising=False)
    yesterday = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
    with pytest.raises(ConfigError, match=r"is past \(today is "):
        parse_pki_settings({"server_ca": {"keep_previous_until": yesterday.isoformat()}})


def test_a_server_ca_rollover_without_overlap_is_acknowledged_in_config():
    assert parse_pki_settings(None).server_ca.rollover_without_overlap is False
    assert parse_pki_settings({"server_ca": {"rollover_without_overlap": True}}).server_ca.rollover_without_overlap is True
    assert parse_pki_settings(None).client_ca.rollover_without_overlap is False


def test_a_generated_cas_common_name_leaves_room_for_its_generation_suffix():
    assert parse_pki_settings({"server_ca": {"generation": 9, "subject": {"common_name": "x" * 61}}})
    with pytest.raises(ConfigError) as error:
        parse_pki_settings({"server_ca": {"generation": 10, "subject": {"common_name": "x" * 61}}})
    assert error.value.key == "pki.server_ca.subject.common_name"
    assert "generation suffix" in error.value.valid and error.value.valid.endswith("x G10')")


BAD_VALUES = [
    ({"server_ca": {"key_type": "dsa"}}, "pki.server_ca.key_type"),
    ({"client_cert": {"key_type": "ed25519"}}, "pki.client_cert.key_type"),
    ({"server_ca": {"key_size": 1024}}, "pki.server_ca.key_size"),
    ({"client_ca": {"key_type": "ec", "key_size": 4096}}, "pki.client_ca.key_size"),
    ({"client_cert": {"key_size": "2048"}}, "pki.client_cert.key_size"),
    ({"client_cert": {"validity_days": 0}}, "pki.client_cert.validity_days"),
    # The bounds the policy pack enforces (components.pki_crypto.BOUNDS), refused here first.
    ({"server_ca": {"key_size": 2048}}, "pki.server_ca.key_size"),
    ({"client_cert": {"key_type": "rsa", "key_size": 2048}}, "pki.client_cert.key_size"),
    ({"server_ca": {"validity_days": 3651}}, "pki.server_ca.validity_days"),
    ({"client_ca": {"validity_days": 29, "expiry_warning_days": 0}}, "pki.client_ca.validity_days"),
    ({"client_cert": {"validity_days": 826}}, "pki.client_cert.validity_days"),
    ({"server_ca": {"validity_days": -5}}, "pki.server_ca.validity_days"),
    ({"server_ca": {"validity_days": "ten years"}}, "pki.server_ca.validity_days"),
    ({"server_ca": {"validity_days": True}}, "pki.server_ca.validity_days"),
    ({"client_cert": {"validity_days": 30}}, "pki.client_cert.renew_before_days"),  # default 30 is not shorter
    ({"client_cert": {"renew_before_days": 731}}, "pki.client_cert.renew_before_days"),
    ({"client_cert": {"renew_before_days": -1}}, "pki.client_cert.renew_before_days"),
    ({"server_ca": {"validity_days": 365}}, "pki.server_ca.expiry_warning_days"),
    ({"client_ca": {"generation": 0}}, "pki.client_ca.generation"),
    ({"client_ca": {"keep_previous_until": "next spring"}}, "pki.client_ca.keep_previous_until"),
    ({"server_ca": {"rollover_without_overlap": "yes"}}, "pki.server_ca.rollover_without_overlap"),
    ({"client_ca": {"rollover_without_overlap": True}}, "pki.client_ca.rollover_without_overlap"),  # server CA only
    ({"server_ca": {"subject": {"common_name": ""}}}, "pki.server_ca.subject.common_name"),
    ({"server_ca": {"subject": {"common_name": "x" * 65}}}, "pki.server_ca.subject.common_name"),
    ({"server_ca": {"subject": {"country": "Germany"}}}, "pki.server_ca.subject.country"),
    ({"server_ca": {"subject": {"email": "a@b"}}}, "pki.server_ca.subject.email"),
    ({"server_ca": {"subject": "CN=x"}}, "pki.server_ca.subject"),
    ({"server_ca": {"validty_days": 10}}, "pki.server_ca.validty_days"),
    ({"client_cert": {"generation": 2}}, "pki.client_cert.generation"),
    ({"servers_ca": {}}, "pki.servers_ca"),
    ({"server_certs_key_passphrase": "too-short"}, "pki.server_certs_key_passphrase"),
    ({"server_certs_key_passphrase": "a" * 31 + "="}, "pki.server_certs_key_passphrase"),
    ({"heartbeat_key": ""}, "pki.heartbeat_key"),
]


@pytest.mark.parametrize("section,key", BAD_VALUES, ids=[key for _, key in BAD_VALUES])
def test_bad_value_is_rejected_naming_its_key(section, key):
    with pytest.raises(ConfigError) as error:
        parse_pki_settings(section)
    assert error.value.key == key
    assert key in str(error.value)


def existing(imported, **fields):
    return {"server_ca": {"existing": {key: imported[value] for key, value in fields.items()}}}


def test_imported_ca_is_accepted_plain_or_with_its_passphrase(imported):
    plain = parse_pki_settings(existing(imported, certificate_pem="certificate_pem", private_key_pem="private_key_pem"))
    encrypted = parse_pki_settings({"client_ca": {"existing": {
        "certificate_pem": imported["certificate_pem"],
        "private_key_pem": imported["encrypted_private_key_pem"], "private_key_passphrase": "s3cret",
    }}})

    assert plain.server_ca.existing == ExistingCa(imported["certificate_pem"], imported["private_key_pem"])
    assert encrypted.client_ca.existing.private_key_passphrase == "s3cret"


BAD_IMPORTS = [
    ({"certificate_pem": "not a pem", "private_key_pem": "private_key_pem"}, "pki.server_ca.existing.certificate_pem", "not a PEM certificate"),
    ({"certificate_pem": "certificate_pem", "private_key_pem": "garbage"}, "pki.server_ca.existing.private_key_pem", "not a PEM"),
    ({"certificate_pem": "certificate_pem", "private_key_pem": "encrypted_private_key_pem"}, "pki.server_ca.existing.private_key_pem", "passphrase"),
    ({"certificate_pem": "other_certificate_pem", "private_key_pem": "private_key_pem"}, "pki.server_ca.existing.private_key_pem", "does not match"),
    ({"certificate_pem": "leaf_pem", "private_key_pem": "leaf_key_pem"}, "pki.server_ca.existing.certificate_pem", "not a CA"),
    ({"certificate_pem": "certificate_pem"}, "pki.server_ca.existing.private_key_pem", "required"),
    ({"private_key_pem": "private_key_pem"}, "pki.server_ca.existing.certificate_pem", "required"),
]


@pytest.mark.parametrize("fields,key,reason", BAD_IMPORTS, ids=[reason for _, _, reason in BAD_IMPORTS])
def test_bad_import_is_rejected_without_showing_the_key(imported, fields, key, reason):
    section = {"server_ca": {"existing": {name: imported.get(value, value) for name, value in fields.items()}}}
    with pytest.raises(ConfigError) as error:
        parse_pki_settings(section)

    assert (error.value.key, reason in error.value.valid) == (key, True)
    assert "PRIVATE KEY" not in str(error.value)


def test_wrong_import_passphrase_is_rejected_without_echoing_it(imported):
    section = {"server_ca": {"existing": {
        "certificate_pem": imported["certificate_pem"],
        "private_key_pem": imported["encrypted_private_key_pem"], "private_key_passphrase": "guess-123",
    }}}
    with pytest.raises(ConfigError) as error:
        parse_pki_settings(section)
    assert error.value.key == "pki.server_ca.existing.private_key_pem"
    assert error.value.value == SECRET_SHOWN_AS and "guess-123" not in str(error.value)


def test_secret_values_stay_out_of_error_messages_and_reprs(imported):
    with pytest.raises(ConfigError) as error:
        parse_pki_settings({"server_certs_key_passphrase": "hunter2-not-32-characters"})
    assert "hunter2" not in str(error.value)

    settings = parse_pki_settings({
        **existing(imported, certificate_pem="certificate_pem", private_key_pem="private_key_pem"),
        "heartbeat_key": "hb-secret-value",
    })
    assert "PRIVATE KEY" not in repr(settings) and "hb-secret-value" not in repr(settings)
