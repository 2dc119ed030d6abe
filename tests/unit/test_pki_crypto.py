"""The pure PKI functions: certificate extensions, signatures, key encryption."""

import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components import pki_crypto as crypto

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
KEY_SPECS = [("rsa", 2048), ("ec", 256), ("ec", 384)]


def ca(key_type="ec", key_size=256, validity_days=3650):
    key = crypto.generate_private_key(key_type, key_size)
    return key, crypto.build_ca_certificate(key, crypto.Subject("Test CA", "Example", "Cloud", "DE"), validity_days, NOW)


def extension(certificate, kind):
    return certificate.extensions.get_extension_for_class(kind)


@pytest.mark.parametrize("key_type,key_size", KEY_SPECS)
def test_ca_certificate_is_a_path_length_zero_signing_ca(key_type, key_size):
    key, certificate = ca(key_type, key_size)

    constraints = extension(certificate, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = extension(certificate, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature and not usage.value.key_encipherment
    ski = extension(certificate, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert extension(certificate, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    certificate.verify_directly_issued_by(certificate)


def test_ca_subject_carries_every_configured_field():
    _, certificate = ca()
    name = certificate.subject
    assert [(a.oid, a.value) for a in name] == [
        (NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "Example"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Cloud"), (NameOID.COMMON_NAME, "Test CA"),
    ]
    assert certificate.issuer == name


def test_subject_leaves_out_unset_fields():
    assert crypto.Subject("only-cn").to_name().rfc4514_string() == "CN=only-cn"


def test_validity_starts_before_now_and_lasts_the_configured_days():
    _, certificate = ca(validity_days=10)
    assert certificate.not_valid_before_utc == NOW - crypto.CLOCK_SKEW_ALLOWANCE
    assert certificate.not_valid_after_utc == NOW + datetime.timedelta(days=10)
    assert crypto.not_after_iso(certificate) == "2026-01-11T00:00:00+00:00"


@pytest.mark.parametrize("key_type,key_size", KEY_SPECS)
def test_client_certificate_is_a_client_auth_leaf_of_its_ca(key_type, key_size):
    ca_key, ca_certificate = ca()
    key = crypto.generate_private_key(key_type, key_size)
    certificate = crypto.build_client_certificate(key, crypto.Subject("controller"), 730, ca_certificate, ca_key, NOW)

    certificate.verify_directly_issued_by(ca_certificate)
    constraints = extension(certificate, x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = extension(certificate, x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert usage.key_encipherment == (key_type == "rsa")
    assert list(extension(certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca_ski = extension(ca_certificate, x509.SubjectKeyIdentifier).value.digest
    assert extension(certificate, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski
    assert crypto.key_matches_certificate(key, certificate)


def test_client_certificate_of_a_ca_without_key_identifier_still_names_its_issuer_key():
    ca_key = crypto.generate_private_key("ec", 256)
    name = crypto.Subject("legacy CA").to_name()
    legacy_ca = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = crypto.generate_private_key("ec", 256)
    certificate = crypto.build_client_certificate(key, crypto.Subject("c"), 1, legacy_ca, ca_key, NOW)
    expected = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    assert extension(certificate, x509.AuthorityKeyIdentifier).value == expected


@pytest.mark.parametrize("key_type,key_size,hash_name", [("rsa", 2048, "sha256"), ("ec", 256, "sha256"), ("ec", 384, "sha384")])
def test_signature_hash_matches_the_signing_key_strength(key_type, key_size, hash_name):
    _, certificate = ca(key_type, key_size)
    assert certificate.signature_hash_algorithm.name == hash_name


@pytest.mark.parametrize("key_type,key_size,expected", [
    ("rsa", 3072, (rsa.RSAPrivateKey, 3072)), ("rsa", 4096, (rsa.RSAPrivateKey, 4096)),
    ("ec", 256, (ec.EllipticCurvePrivateKey, 256)), ("ec", 384, (ec.EllipticCurvePrivateKey, 384)),
])
def test_generated_key_has_the_requested_type_and_size(key_type, key_size, expected):
    key = crypto.generate_private_key(key_type, key_size)
    assert isinstance(key, expected[0]) and key.key_size == expected[1]


@pytest.mark.parametrize("key_type,key_size", [("dsa", 2048), ("rsa", 1024), ("ec", 521)])
def test_unsupported_key_is_refused(key_type, key_size):
    with pytest.raises(ValueError):
        crypto.generate_private_key(key_type, key_size)


def test_encrypted_key_needs_its_passphrase():
    key = crypto.generate_private_key("ec", 256)
    pem = crypto.encrypted_private_key_pem(key, "correct horse")

    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert crypto.load_private_key(pem, "correct horse").private_numbers() == key.private_numbers()
    with pytest.raises(ValueError):
        crypto.load_private_key(pem, "wrong")
    with pytest.raises(TypeError):
        crypto.load_private_key(pem)


def test_key_matching_tells_keys_apart():
    key, certificate = ca()
    assert crypto.key_matches_certificate(key, certificate)
    assert not crypto.key_matches_certificate(crypto.generate_private_key("ec", 256), certificate)


def test_server_certs_key_passphrase_length_gives_32_base64url_characters():
    values = {crypto.random_secret(crypto.SERVER_CERTS_KEY_PASSPHRASE_BYTES) for _ in range(50)}
    assert len(values) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", value) for value in values)


def test_pem_bundle_joins_blocks_one_newline_apart_and_skips_missing():
    assert crypto.pem_bundle("A\n", None, "B", "") == "A\nB\n"


def test_invalid_now_tells_a_certificate_not_valid_yet_from_an_expired_one():
    _, certificate = ca(validity_days=10)
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    assert crypto.invalid_now(certificate, start) is None and crypto.invalid_now(certificate, end) is None
    assert crypto.invalid_now(certificate, start - datetime.timedelta(seconds=1)).startswith(f"is not valid until {start.isoformat()} (now ")
    assert crypto.invalid_now(certificate, end + datetime.timedelta(days=1)).startswith(f"expired on {end.isoformat()} (now ")


def test_generations_from_the_second_on_end_the_common_name_in_g_n():
    subject = crypto.Subject("Octavia amphora server CA", "Example")
    assert subject.of_generation(1) == subject
    assert subject.of_generation(2) == crypto.Subject("Octavia amphora server CA G2", "Example")
    assert subject.of_generation(12).to_name().rfc4514_string() == "CN=Octavia amphora server CA G12,O=Example"
    assert crypto.Subject("CA G2").of_generation(2) == crypto.Subject("CA G2")  # already named so
