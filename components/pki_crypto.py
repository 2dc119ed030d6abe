"""Pure certificate-authority functions for the Octavia PKI, built on cryptography's x509 builder.

No Pulumi here: every function takes plain values and returns plain values (PEM strings), so the
dynamic provider and the settings validation share one implementation and tests call it directly.

BOUNDS is the one table of key and validity bounds: the settings validation (components/pki.py)
refuses at preview what lies outside it, and the policy pack (policy/octavia_policies.py) enforces
it as its defaults, with the same checks (key_problem, validity_problem, imported_ca_findings).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union


class _Lazy:
    """Stands for a module imported at its first attribute use. The PKI's dynamic provider process
    imports this module on every preview, where its check and diff need no cryptography: importing
    cryptography's x509 and key modules (about 0.1 s of CPU) only when a certificate is made or read
    keeps that off every no-change preview's provider process (issue 18)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]
else:
    x509 = _Lazy("cryptography.x509")
    hashes = _Lazy("cryptography.hazmat.primitives.hashes")
    serialization = _Lazy("cryptography.hazmat.primitives.serialization")
    ec = _Lazy("cryptography.hazmat.primitives.asymmetric.ec")
    rsa = _Lazy("cryptography.hazmat.primitives.asymmetric.rsa")

# Key types and the sizes this module can generate; EC sizes name the NIST curve (256 = P-256).
# A generated key must also meet BOUNDS (generated_key_sizes).
KEY_SIZES = {"rsa": (2048, 3072, 4096), "ec": (256, 384)}
_EC_CURVES = {256: "SECP256R1", 384: "SECP384R1"}  # names in cryptography's ec module

# The bounds every generated certificate meets. The policy pack takes them as its defaults
# (operators may tighten them with --policy-pack-config); imported CAs meet the validity bounds,
# and a key below the minimum is a warning for them (replacing an imported CA is a rollover).
BOUNDS: dict[str, int] = {
    # NIST SP 800-57: 2048-bit RSA is retired after 2030; every key here outlives that.
    "min_rsa_bits": 3072,
    "min_ec_bits": 256,
    # A CA rollover means failing over every amphora: ten years is the longest sensible.
    "max_ca_validity_days": 3650,
    # The client certificate renews itself; longer than two years and some more only adds risk.
    "max_client_cert_validity_days": 825,
    "min_validity_days": 30,
}

# The PKI's decision clock: OCTAVIA_PKI_NOW (ISO 8601; a bare date means midnight UTC) or the system
# clock. It decides what is due (renewal, rollover dates, expiry warnings); certificates are always
# issued, and stored ones checked, at the real clock (real_now).
CLOCK_ENV = "OCTAVIA_PKI_NOW"

# Certificates start this long before "now" so controllers and amphorae with a skewed clock accept them.
CLOCK_SKEW_ALLOWANCE = datetime.timedelta(hours=1)

# Octavia's [certificates] server_certs_key_passphrase must be exactly 32 base64url characters:
# 24 random bytes encode to exactly 32 characters without padding.
SERVER_CERTS_KEY_PASSPHRASE_BYTES = 24


GENERATION_SUFFIX = " G{generation}"


@dataclass(frozen=True)
class Subject:
    """X.509 subject fields; None fields are left out of the name."""

    common_name: str
    organization: Optional[str] = None
    organizational_unit: Optional[str] = None
    country: Optional[str] = None

    def to_name(self) -> x509.Name:
        fields = (
            (x509.oid.NameOID.COUNTRY_NAME, self.country),
            (x509.oid.NameOID.ORGANIZATION_NAME, self.organization),
            (x509.oid.NameOID.ORGANIZATIONAL_UNIT_NAME, self.organizational_unit),
            (x509.oid.NameOID.COMMON_NAME, self.common_name),
        )
        return x509.Name([x509.NameAttribute(oid, value) for oid, value in fields if value])

    def of_generation(self, generation: int) -> "Subject":
        """A generated CA's subject: generation 2 and later end the common name in " G<n>", so the
        generations in a trust bundle can be told apart; generation 1 keeps the configured name."""
        suffix = GENERATION_SUFFIX.format(generation=generation)
        if generation < 2 or self.common_name.endswith(suffix):
            return self
        return dataclasses.replace(self, common_name=self.common_name + suffix)


def real_now() -> datetime.datetime:
    """The system clock in UTC: what certificates are issued at and checked against."""
    return datetime.datetime.now(datetime.timezone.utc)


def pki_now() -> datetime.datetime:
    """The decision clock: the current time in UTC, or the OCTAVIA_PKI_NOW override.

    It moves decisions only (renewal due, rollover dates, expiry warnings), never a certificate's
    validity: a certificate issued at a rehearsed future time would not be valid yet.
    """
    override = os.environ.get(CLOCK_ENV)
    if not override:
        return real_now()
    moment = datetime.datetime.fromisoformat(override)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


# --- Bounds --------------------------------------------------------------------------------------


def min_key_bits(key_type: str, bounds: dict = BOUNDS) -> Optional[int]:
    """The smallest key a certificate may have, or None for a key type that is not rsa or ec."""
    return {"rsa": bounds["min_rsa_bits"], "ec": bounds["min_ec_bits"]}.get(key_type)


def generated_key_sizes(key_type: str, bounds: dict = BOUNDS) -> tuple[int, ...]:
    """The sizes a generated key of key_type may have: what can be generated, within bounds."""
    minimum = min_key_bits(key_type, bounds)
    return tuple(size for size in KEY_SIZES.get(key_type, ()) if minimum is not None and size >= minimum)


def validity_range(is_ca: bool, bounds: dict = BOUNDS) -> tuple[int, int]:
    """(minimum, maximum) validity in days of a CA or of the client certificate."""
    maximum = bounds["max_ca_validity_days"] if is_ca else bounds["max_client_cert_validity_days"]
    return bounds["min_validity_days"], maximum


def key_problem(key_type: Optional[str], key_size: int, bounds: dict = BOUNDS) -> Optional[str]:
    """Why a key breaks the bounds, or None."""
    minimum = min_key_bits(key_type or "", bounds)
    if minimum is None:
        return f"key type {key_type!r} is not rsa or ec"
    if key_size < minimum:
        return f"{key_type} key of {key_size} bits is below the minimum of {minimum}"
    return None


def validity_problem(validity_days: int, is_ca: bool, bounds: dict = BOUNDS) -> Optional[str]:
    """Why a validity breaks the bounds, or None."""
    minimum, maximum = validity_range(is_ca, bounds)
    if validity_days > maximum:
        return f"validity of {validity_days} days exceeds the maximum of {maximum}"
    if validity_days < minimum:
        return f"validity of {validity_days} days is below the minimum of {minimum}"
    return None


@dataclass(frozen=True)
class CertificateFacts:
    """What the bounds look at in a certificate."""

    key_type: str  # rsa, ec or the key class's name
    key_size: int
    validity_days: int  # not_after - not_before, whole days
    not_after: datetime.datetime
    is_ca: bool


def certificate_facts(certificate: x509.Certificate) -> CertificateFacts:
    key = certificate.public_key()
    key_type = "rsa" if isinstance(key, rsa.RSAPublicKey) else "ec" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    return CertificateFacts(key_type, getattr(key, "key_size", 0), validity.days, certificate.not_valid_after_utc,
                            is_ca_certificate(certificate))


@dataclass(frozen=True)
class Findings:
    """Errors block (settings validation and policy alike); warnings are reported and let through."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def imported_ca_findings(certificate: x509.Certificate, now: datetime.datetime, bounds: dict = BOUNDS) -> Findings:
    """An imported CA's own rules: a CA, not expired, a validity within bounds, an rsa or ec key.

    A key below the minimum of a generated CA is a warning only: replacing an imported CA is a
    rollover of a running deployment, which its operator plans (docs/pki.md).
    """
    facts = certificate_facts(certificate)
    errors = []
    if not facts.is_ca:
        errors.append("is not a CA (basicConstraints CA:TRUE)")
    if facts.not_after <= now:
        errors.append(f"expired on {facts.not_after.isoformat()}")
    problem = validity_problem(facts.validity_days, True, bounds)
    if problem:
        errors.append(problem)
    warnings = []
    problem = key_problem(facts.key_type, facts.key_size, bounds)
    if problem and min_key_bits(facts.key_type, bounds) is None:
        errors.append(problem)
    elif problem:
        warnings.append(
            f"{problem} for a generated CA; accepted for an imported CA, as replacing it is a rollover: "
            "plan one (bump generation, set keep_previous_until, fail over the amphorae; docs/pki.md)"
        )
    return Findings(tuple(errors), tuple(warnings))


# --- Keys and certificates -----------------------------------------------------------------------


def random_secret(byte_count: int) -> str:
    """A base64url string from byte_count random bytes (no padding)."""
    return secrets.token_urlsafe(byte_count)


def generate_private_key(key_type: str, key_size: int) -> PrivateKey:
    if key_size not in KEY_SIZES.get(key_type, ()):
        raise ValueError(f"unsupported key {key_type}/{key_size}; valid: {KEY_SIZES}")
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    return ec.generate_private_key(getattr(ec, _EC_CURVES[key_size])())


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
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
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


def invalid_now(certificate: x509.Certificate, now: datetime.datetime) -> Optional[str]:
    """Why a certificate is not valid at now ("not valid until ...", "expired on ..."), or None."""
    if now < certificate.not_valid_before_utc:
        return f"is not valid until {certificate.not_valid_before_utc.isoformat()} (now {now.isoformat(timespec='seconds')})"
    if now > certificate.not_valid_after_utc:
        return f"expired on {certificate.not_valid_after_utc.isoformat()} (now {now.isoformat(timespec='seconds')})"
    return None


def pem_bundle(*pems: Optional[str]) -> str:
    """Concatenate PEM blocks, skipping empty ones, each ending in exactly one newline."""
    return "".join(pem.strip() + "\n" for pem in pems if pem)
