"""One source of certificate bounds: components.pki_crypto.BOUNDS, read by the settings validation
(components/pki.py) and the policy pack (policy/octavia_policies.py) alike.

With the default policy config, whatever the policy would refuse is refused by parse_pki_settings
first (a ConfigError naming the key, before any resource exists). Imported CAs follow their own
rules: a key below the generated minimum is a warning in both places, not a block.
"""

import datetime
import sys
from pathlib import Path

import pytest
import yaml
from pulumi_policy import EnforcementLevel, PolicyResourceOptions, ResourceValidationArgs

from components import pki_crypto as crypto
from config.errors import ConfigError
from config.pki import parse_pki_settings, pki_defaults
from components.pki_crypto import BOUNDS, CLOCK_ENV, KEY_SIZES

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
sys.path.insert(0, str(POLICY_DIR))
import octavia_policies as p  # noqa: E402

NOW = datetime.datetime.now(datetime.timezone.utc)


def policy_messages(policy, resource_type, props, config=None):
    name = "octavia-pki-server-ca"
    urn = f"urn:pulumi:dev::octavia-infra::{resource_type}::{name}"
    args = ResourceValidationArgs(resource_type, props, urn, name, PolicyResourceOptions(False, [], False, [], None, [], None),
                                  None, None, config or {})
    found = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def config_error(section):
    try:
        parse_pki_settings(section)
    except ConfigError as error:
        return error
    return None


# --- the table ------------------------------------------------------------------------------------


def test_the_policy_pack_defaults_are_the_bounds_table():
    assert {key: p.DEFAULTS[key] for key in BOUNDS} == BOUNDS
    schema = p.certificate_bounds.config_schema.properties
    assert {key: schema[key]["default"] for key in BOUNDS} == BOUNDS


def test_generated_key_sizes_are_the_generatable_ones_within_bounds():
    assert crypto.generated_key_sizes("rsa") == (3072, 4096)
    assert crypto.generated_key_sizes("ec") == (256, 384)
    assert crypto.generated_key_sizes("rsa", {**BOUNDS, "min_rsa_bits": 4096}) == (4096,)
    assert crypto.generated_key_sizes("dsa") == ()


def test_every_default_of_pulumi_yaml_is_within_bounds():
    defaults = pki_defaults()
    for name in ("server_ca", "client_ca", "client_cert"):
        section = defaults[name]
        assert crypto.key_problem(section["key_type"], section["key_size"]) is None
        assert crypto.validity_problem(section["validity_days"], name != "client_cert") is None
    parse_pki_settings(None)  # and the settings validation accepts them
    for key_type in KEY_SIZES:  # key_size when only key_type is set
        settings = parse_pki_settings({"client_cert": {"key_type": key_type}})
        assert settings.client_cert.key_size in crypto.generated_key_sizes(key_type)


# --- the settings validation refuses exactly what the policy refuses ---------------------------------

SECTIONS = {"server_ca": p.CERTIFICATE_AUTHORITY, "client_ca": p.CERTIFICATE_AUTHORITY, "client_cert": p.CLIENT_CERTIFICATE}
KEYS = [(key_type, size) for key_type, sizes in KEY_SIZES.items() for size in sizes]
VALIDITIES = [1, 29, 30, 31, 824, 825, 826, 3649, 3650, 3651, 7300]


def fitting_section(name, **values):
    """A section whose other settings fit the validity under test (warning windows are shorter)."""
    section = dict(values)
    days = section.get("validity_days")
    if days is not None:
        section["renew_before_days" if name == "client_cert" else "expiry_warning_days"] = max(days - 1, 0)
    return section


@pytest.mark.parametrize("name", SECTIONS)
@pytest.mark.parametrize("key_type,key_size", KEYS)
def test_a_key_is_refused_by_the_settings_exactly_when_the_policy_refuses_it(name, key_type, key_size):
    props = {"key_type": key_type, "key_size": key_size, "validity_days": 730}
    refused_by_policy = policy_messages(p.certificate_bounds, SECTIONS[name], props)
    error = config_error({name: fitting_section(name, key_type=key_type, key_size=key_size, validity_days=730)})

    assert bool(error) == bool(refused_by_policy), (error, refused_by_policy)
    if error:
        assert error.key == f"pki.{name}.key_size"
        assert refused_by_policy[0].split(": ", 1)[1].split(" (see")[0] in error.valid  # the same words


@pytest.mark.parametrize("name", SECTIONS)
@pytest.mark.parametrize("days", VALIDITIES)
def test_a_validity_is_refused_by_the_settings_exactly_when_the_policy_refuses_it(name, days):
    props = {"key_type": "ec", "key_size": 256, "validity_days": days}
    refused_by_policy = policy_messages(p.certificate_bounds, SECTIONS[name], props)
    error = config_error({name: fitting_section(name, key_type="ec", key_size=256, validity_days=days)})

    assert bool(error) == bool(refused_by_policy), (error, refused_by_policy)
    if error:
        assert error.key == f"pki.{name}.validity_days"


def test_a_2048_bit_rsa_ca_is_refused_at_preview_naming_the_key_and_the_minimum():
    error = config_error(yaml.safe_load("server_ca: {key_size: 2048}"))
    assert error.key == "pki.server_ca.key_size" and error.value == 2048
    assert str(error) == (
        "config pki.server_ca.key_size=2048: rsa key of 2048 bits is below the minimum of 3072; "
        "for key_type rsa: one of 3072, 4096"
    )


# --- imported CAs: their own rules, and a warning for a weak key -------------------------------------


def imported(key_type="rsa", key_size=2048, days=3650, issued=NOW):
    key = crypto.generate_private_key(key_type, key_size)
    certificate = crypto.build_ca_certificate(key, crypto.Subject("Brownfield CA"), days, issued)
    return {"certificate_pem": crypto.certificate_pem(certificate), "private_key_pem": crypto.private_key_pem(key)}


@pytest.fixture(scope="module")
def rsa_2048_ca():
    return imported()


def test_an_imported_2048_bit_rsa_ca_is_accepted_with_a_warning_naming_its_key(rsa_2048_ca):
    settings = parse_pki_settings({"server_ca": {"existing": rsa_2048_ca}})

    assert settings.server_ca.existing.certificate_pem == rsa_2048_ca["certificate_pem"]
    [warning] = settings.warnings
    assert warning.startswith("pki.server_ca.existing: the imported CA's rsa key of 2048 bits is below the minimum of 3072")
    assert "rollover" in warning and "PRIVATE KEY" not in warning


def test_the_policy_warns_of_an_imported_2048_bit_rsa_ca_and_does_not_block_it(rsa_2048_ca):
    props = {"existing_certificate_pem": rsa_2048_ca["certificate_pem"], "generation": 1}

    assert policy_messages(p.certificate_bounds, p.CERTIFICATE_AUTHORITY, props) == []
    [warning] = policy_messages(p.imported_ca_key_strength, p.CERTIFICATE_AUTHORITY, props)
    assert "rsa key of 2048 bits is below the minimum of 3072" in warning
    assert p.imported_ca_key_strength.enforcement_level == EnforcementLevel.ADVISORY
    assert p.imported_ca_key_strength in p.ADVISORY_POLICIES
    assert "ADVISORY_POLICIES" in (POLICY_DIR / "__main__.py").read_text()


def test_an_imported_ca_strong_enough_gets_no_warning():
    ca = imported("ec", 256)
    assert parse_pki_settings({"client_ca": {"existing": ca}}).warnings == ()
    props = {"existing_certificate_pem": ca["certificate_pem"]}
    assert policy_messages(p.imported_ca_key_strength, p.CERTIFICATE_AUTHORITY, props) == []


@pytest.mark.parametrize("ca,reason", [
    (dict(key_type="ec", key_size=256, days=3650, issued=NOW - datetime.timedelta(days=3651)), "expired on"),
    (dict(key_type="ec", key_size=256, days=7300), "validity of 7300 days exceeds the maximum of 3650"),
], ids=["expired", "too long"])
def test_an_imported_ca_breaking_its_own_rules_is_refused_by_both(ca, reason):
    pems = imported(**ca)
    error = config_error({"server_ca": {"existing": pems}})
    assert error.key == "pki.server_ca.existing.certificate_pem" and reason in error.valid

    found = policy_messages(p.certificate_bounds, p.CERTIFICATE_AUTHORITY, {"existing_certificate_pem": pems["certificate_pem"]})
    assert len(found) == 1 and reason in found[0]


def test_an_imported_ca_expires_by_the_pki_clock(monkeypatch):
    pems = imported("ec", 256, days=100)
    assert config_error({"server_ca": {"existing": pems}}) is None
    monkeypatch.setenv(CLOCK_ENV, (NOW + datetime.timedelta(days=101)).isoformat())
    assert "expired on" in config_error({"server_ca": {"existing": pems}}).valid
    props = {"existing_certificate_pem": pems["certificate_pem"]}
    assert "expired on" in policy_messages(p.certificate_bounds, p.CERTIFICATE_AUTHORITY, props)[0]


def test_policy_bounds_from_the_engine_are_shown_as_whole_numbers(rsa_2048_ca):
    """The engine hands the pack's config over as floats (3072.0)."""
    engine_config = {"min_rsa_bits": 3072.0, "min_ec_bits": 256.0}
    props = {"existing_certificate_pem": rsa_2048_ca["certificate_pem"]}
    [warning] = policy_messages(p.imported_ca_key_strength, p.CERTIFICATE_AUTHORITY, props, engine_config)
    assert "below the minimum of 3072 for a generated CA" in warning
    [violation] = policy_messages(p.certificate_bounds, p.CLIENT_CERTIFICATE,
                                  {"key_type": "rsa", "key_size": 2048, "validity_days": 730}, engine_config)
    assert violation.endswith("rsa key of 2048 bits is below the minimum of 3072 (see pki.* in docs/pki.md)")
