"""Pure certificate-authority functions for the Octavia PKI, built on cryptography's x509 builder.

No Pulumi here: every function takes plain values and returns plain values (PEM strings), so the
dynamic provider and the settings validation share one implementation and tests call it directly.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Optional, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]

# Supported key types and the sizes each allows; EC sizes name the NIST curve (256 = P-256).
KEY_SIZES = {"rsa": (2048, 3072, 4096), "ec": (256, 384)}
_EC_CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1}

# Certificates start this long before "now" so controllers and amphorae with a skewed clock accept them.
CLOCK_SKEW_ALLOWANCE = datetime.timedelta(hours=1)

# Octavia's [certificates] server_certs_key_passphrase must be exactly 32 base64url characters:
# 24 random bytes encode to exactly 32 characters without padding.
SERVER_CERTS_KEY_PASSPHRASE_BYTES = 24


@dataclass(frozen=True)
class Subject:
    """X.509 subject fields; None fields are left out of the name."""

    common_name: str
    organization: Optional[str] = None
    organizational_unit: Optional[str] = None
    country: Optional[str] = None

    def to_name(self) -> x509.Name:
        fields = (
            (NameOID.COUNTRY_NAME, self.country),
            (NameOID.ORGANIZATION_NAME, self.organization),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, self.organizational_unit),
            (NameOID.COMMON_NAME, self.common_name),
        )
        return x509.Name([x509.NameAttribute(oid, value) for oid, value in fields if value])


def random_secret(byte_count: int) -> str:
    """A base64url string from byte_count random bytes (no padding)."""
    return secrets.token_urlsafe(byte_count)


def generate_private_key(key_type: str, key_size: int) -> PrivateKey:
    if key_size not in KEY_SIZES.get(key_type, ()):
        raise ValueError(f"unsupported key {key_type}/{key_size}; valid: {KEY_SIZES}")
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    return ec.generate_private_key(_EC_CURVES[key_size]())


def _signature_hash(signing_key: PrivateKey) -> hashes.HashAlgorithm:
    # Match the hash strength to the key: SHA-384 for P-384, SHA-256 otherwise.
    if isinstance(signing_key, ec.EllipticCurvePrivateKey) and signing_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _validity(builder: x509.CertificateBuilder, now: datetime.datetime, validity_days: int):
    return builder.not_valid_before(now - CLOCK_SKEW_ALLOWANCE).not_valid_after(
        now + datetime.timedelta(days=validity_days)
    )


def build_ca_certificate(
    key: PrivateKey, subject: Subject, validity_days: int, now: datetime.datetime
) -> x509.Certificate:
    """A self-signed CA that may sign end-entity certificates only (path length 0)."""
    name = subject.to_name()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    return _validity(builder, now, validity_days).sign(key, _signature_hash(key))


def build_client_certificate(
    key: PrivateKey,
    subject: Subject,
    validity_days: int,
    issuer_certificate: x509.Certificate,
    issuer_key: PrivateKey,
    now: datetime.datetime,
) -> x509.Certificate:
    """An end-entity TLS client certificate (the controllers' certificate towards amphorae)."""
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject.to_name())
        .issuer_name(issuer_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(issuer_certificate), critical=False)
    )
    return _validity(builder, now, validity_days).sign(issuer_key, _signature_hash(issuer_key))


def _key_usage(**enabled: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
        ),
        False,
    )
    return x509.KeyUsage(**{**flags, **enabled})


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:  # imported CAs may lack a subject key identifier
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())


# --- PEM encoding and decoding -------------------------------------------------------------------


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def encrypted_private_key_pem(key: PrivateKey, passphrase: str) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def private_key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str, passphrase: Optional[str] = None) -> PrivateKey:
    key = serialization.load_pem_private_key(
        pem.encode(), passphrase.encode() if passphrase else None
    )
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"unsupported key type {type(key).__name__}; valid: RSA or EC")
    return key


def key_matches_certificate(key: PrivateKey, certificate: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki)


def is_ca_certificate(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def not_after_iso(certificate: x509.Certificate) -> str:
    return certificate.not_valid_after_utc.isoformat()


def pem_bundle(*pems: Optional[str]) -> str:
    """Concatenate PEM blocks, skipping empty ones, each ending in exactly one newline."""
    return "".join(pem.strip() + "\n" for pem in pems if pem)
