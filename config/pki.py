"""The `pki` config section: certificate authorities, the client certificate and imported secrets,
validated before any resource exists. Defaults are declared in Pulumi.yaml (config key `pki`), the
reasons for them in docs/pki.md; bounds are components.pki_crypto's (shared with the policy pack).

parse_pki_settings(section) takes the section as a plain dict (the whole section may be marked
secret in the stack because it can hold imported PEMs; pass its plain value). Errors are
ConfigError with keys such as `pki.client_cert.validity_days`.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from components import pki_crypto as crypto
from components.pki_crypto import BOUNDS, KEY_SIZES, Subject, pki_now
from config.errors import ConfigError
from config.schema import load_schema

# --- Settings ------------------------------------------------------------------------------------
# Defaults live in Pulumi.yaml (config key `pki`), the reasons for them in docs/pki.md.


@dataclass(frozen=True)
class ExistingCa:
    """A CA brought from elsewhere (e.g. an existing deployment) instead of generating one.

    Put these in secret config. The key may be encrypted (private_key_passphrase) or not; in
    state it is re-encrypted under a generated passphrase like a generated CA's key. Import is
    how a brownfield deployment keeps its running amphorae trusting the controllers.
    """

    certificate_pem: str
    private_key_pem: str = field(repr=False)
    private_key_passphrase: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class CaSettings:
    """One certificate authority (server CA or client CA).

    generation: bump it to roll the CA over (a new key and certificate; the old one is kept as
        "previous" in state). CAs never roll over by themselves: a rollover needs an amphora
        failover window.
    keep_previous_until: up to and including this date, the previous CA stays in the trust
        bundle (server_ca / client_ca) and, for the client CA, keeps signing the controllers'
        client certificate, so amphorae booted before the rollover keep working. None: the new
        CA takes over at once. A date already past is refused: the key is to be removed then.
    rollover_without_overlap (server CA only): acknowledges that a rollover without
        keep_previous_until cuts the controllers off every running amphora until it is failed
        over; without it such a rollover is refused at preview.
    existing: import this CA instead of generating one (key/validity/subject unused). A different
        imported certificate is a rollover too: bump generation with it.
    """

    subject: Subject
    key_type: str
    key_size: int
    validity_days: int
    expiry_warning_days: int
    generation: int
    keep_previous_until: Optional[datetime.date] = None
    existing: Optional[ExistingCa] = None
    rollover_without_overlap: bool = False


@dataclass(frozen=True)
class ClientCertSettings:
    """The controllers' TLS client certificate, signed by the client CA and renewed by `up`
    once it expires within renew_before_days."""

    subject: Subject
    key_type: str
    key_size: int
    validity_days: int
    renew_before_days: int


@dataclass(frozen=True)
class PkiSettings:
    """Everything the `pki` config section controls.

    heartbeat_key / server_certs_key_passphrase: None: generated once and kept in state. Set
        them (secret config) only to carry over the values of an existing deployment: running
        amphorae sign heartbeats with the old key, and Octavia decrypts stored amphora keys with
        the old passphrase (which must be exactly 32 base64url characters).
    warnings: what the validation let through but the operator must know, each naming its key
        (an imported CA's key below the generated minimum); OctaviaPki reports them.
    """

    server_ca: CaSettings
    client_ca: CaSettings
    client_cert: ClientCertSettings
    heartbeat_key: Optional[str] = field(default=None, repr=False)
    server_certs_key_passphrase: Optional[str] = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()


# --- Parsing -------------------------------------------------------------------------------------

SECRET_SHOWN_AS = "<secret>"
_BASE64URL_32 = re.compile(r"[A-Za-z0-9_-]{32}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_NAME_FIELD_MAX = 64  # RFC 5280 upper bound for CN, O and OU
# key_size when key_type is set without one and differs from the default type: P-256 is the
# most widely supported curve.
_OTHER_TYPE_KEY_SIZE = {"rsa": 3072, "ec": 256}


def pki_defaults() -> dict[str, Any]:
    """The `pki` default object declared in Pulumi.yaml."""
    return load_schema()["pki"].default


class _Section:
    """A config mapping at a dotted key path, over its defaults; every accessor raises ConfigError
    naming the key. Its known keys are the defaults' keys."""

    def __init__(self, data: Any, path: str, defaults: dict[str, Any]):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(path, data, "must be a mapping")
        known = tuple(defaults)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{path}.{unknown[0]}", data[unknown[0]], f"unknown key; valid: {', '.join(known)}")
        self.data, self.path, self.defaults = data, path, defaults

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def value(self, name: str) -> Any:
        return self.data.get(name, self.defaults[name])

    def integer(self, name: str, minimum: int, maximum: Optional[int] = None) -> int:
        value = self.value(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
            valid = f"a whole number from {minimum} to {maximum}" if maximum is not None else f"a whole number >= {minimum}"
            raise ConfigError(self.key(name), value, f"must be {valid}")
        return value

    def text(self, name: str, secret: bool = False) -> Optional[str]:
        value = self.value(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(self.key(name), SECRET_SHOWN_AS if secret else value, "must be a non-empty string")
        return value

    def boolean(self, name: str) -> bool:
        value = self.value(name)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), value, "must be true or false")
        return value

    def date(self, name: str) -> Optional[datetime.date]:
        value = self.value(name)
        if isinstance(value, datetime.datetime):
            return value.date()
        if value is None or isinstance(value, datetime.date):  # YAML loaders may yield dates
            return value
        try:
            return datetime.datetime.fromisoformat(str(value)).date()
        except ValueError:
            raise ConfigError(self.key(name), value, "must be a date, YYYY-MM-DD") from None


def _parse_key(section: _Section) -> dict[str, Any]:
    key_type = section.value("key_type")
    if key_type not in KEY_SIZES:
        raise ConfigError(section.key("key_type"), key_type, f"unknown key type; valid: {', '.join(KEY_SIZES)}")
    default_size = section.defaults["key_size"] if key_type == section.defaults["key_type"] else _OTHER_TYPE_KEY_SIZE[key_type]
    key_size = section.data.get("key_size", default_size)
    sizes = crypto.generated_key_sizes(key_type)
    if key_size not in sizes:
        valid = f"for key_type {key_type}: one of {', '.join(map(str, sizes))}"
        below = isinstance(key_size, int) and not isinstance(key_size, bool) and crypto.key_problem(key_type, key_size)
        raise ConfigError(section.key("key_size"), key_size, f"{below}; {valid}" if below else valid)
    return {"key_type": key_type, "key_size": key_size}


def _validity_days(section: _Section, is_ca: bool) -> int:
    """validity_days within the bounds (BOUNDS: the policy pack's defaults)."""
    minimum, maximum = crypto.validity_range(is_ca)
    return section.integer("validity_days", minimum=minimum, maximum=maximum)


def _parse_subject(section: _Section) -> Subject:
    subject_section = _Section(section.data.get("subject"), section.key("subject"), section.defaults["subject"])
    subject = Subject(**{name: subject_section.text(name) for name in subject_section.defaults})
    if subject.common_name is None:
        raise ConfigError(subject_section.key("common_name"), None, "must be a non-empty string")
    for name in ("common_name", "organization", "organizational_unit"):
        value = getattr(subject, name)
        if value is not None and len(value) > _NAME_FIELD_MAX:
            raise ConfigError(subject_section.key(name), value, f"at most {_NAME_FIELD_MAX} characters")
    if subject.country is not None and not _COUNTRY.fullmatch(subject.country):
        raise ConfigError(subject_section.key("country"), subject.country, "two upper-case letters (ISO 3166), e.g. DE")
    return subject


def _shorter_than_validity(section: _Section, name: str, validity_days: int) -> int:
    days = section.integer(name, minimum=0)
    if days >= validity_days:
        raise ConfigError(section.key(name), days, f"must be shorter than validity_days ({validity_days})")
    return days


_EXISTING_CA_KEYS = {name: None for name in ("certificate_pem", "private_key_pem", "private_key_passphrase")}


def _parse_existing_ca(data: Any, path: str, warnings: list[str]) -> ExistingCa:
    section = _Section(data, path, _EXISTING_CA_KEYS)
    for name in ("certificate_pem", "private_key_pem"):
        if not section.has(name):
            raise ConfigError(section.key(name), None, "required when importing an existing CA")
    existing = ExistingCa(
        certificate_pem=section.text("certificate_pem"),
        private_key_pem=section.text("private_key_pem", secret=True),
        private_key_passphrase=section.text("private_key_passphrase", secret=True),
    )
    try:
        certificate = crypto.load_certificate(existing.certificate_pem)
    except ValueError as error:
        raise ConfigError(section.key("certificate_pem"), "<PEM>", f"not a PEM certificate ({error})") from None
    try:
        key = crypto.load_private_key(existing.private_key_pem, existing.private_key_passphrase)
    except (ValueError, TypeError) as error:  # TypeError: passphrase given for a plain key or missing
        raise ConfigError(
            section.key("private_key_pem"), SECRET_SHOWN_AS,
            f"not a PEM RSA/EC private key readable with private_key_passphrase ({error})",
        ) from None
    if not crypto.key_matches_certificate(key, certificate):
        raise ConfigError(section.key("private_key_pem"), SECRET_SHOWN_AS, "does not match certificate_pem")
    if not crypto.is_ca_certificate(certificate):
        raise ConfigError(section.key("certificate_pem"), str(certificate.subject), "not a CA (basicConstraints CA:TRUE)")
    findings = crypto.imported_ca_findings(certificate, pki_now(), BOUNDS)
    if findings.errors:
        raise ConfigError(section.key("certificate_pem"), str(certificate.subject), "; ".join(findings.errors))
    warnings.extend(f"{path}: the imported CA's {warning}" for warning in findings.warnings)
    return existing


def _keep_previous_until(section: _Section, path: str) -> Optional[datetime.date]:
    """keep_previous_until, refused once past (by the PKI clock: OCTAVIA_PKI_NOW if set, else the real one).

    The overlap is over then: left in place, the date would silently drop the previous CA at the
    next up; removing the key says so in the stack file.
    """
    keep_until = section.date("keep_previous_until")
    today = pki_now().date()
    if keep_until is not None and keep_until < today:
        what = ("drops the previous CA from client_ca and reissues client_cert from the new client CA"
                if path.endswith("client_ca") else "drops the previous CA from server_ca")
        raise ConfigError(
            section.key("keep_previous_until"), keep_until.isoformat(),
            f"is past (today is {today.isoformat()}): the rollover overlap is over; remove the key "
            f"{section.key('keep_previous_until')} from the stack file, and the next up {what} (docs/pki.md, CA rollover)",
        )
    return keep_until


def _generation_subject(section: _Section, generation: int) -> Subject:
    """The subject, whose common name still fits once a generation suffix (" G2") is added."""
    subject = _parse_subject(section)
    issued = subject.of_generation(generation).common_name
    if len(issued) > _NAME_FIELD_MAX:
        raise ConfigError(f"{section.key('subject')}.common_name", subject.common_name,
                          f"at most {_NAME_FIELD_MAX} characters with the generation suffix ({issued!r})")
    return subject


def _parse_ca(data: Any, path: str, defaults: dict[str, Any], warnings: list[str]) -> CaSettings:
    section = _Section(data, path, defaults)
    validity_days = _validity_days(section, is_ca=True)
    generation = section.integer("generation", minimum=1)
    existing = _parse_existing_ca(section.data["existing"], section.key("existing"), warnings) if section.has("existing") else None
    return CaSettings(
        **_parse_key(section),
        validity_days=validity_days,
        expiry_warning_days=_shorter_than_validity(section, "expiry_warning_days", validity_days),
        generation=generation,
        keep_previous_until=_keep_previous_until(section, path),
        subject=_parse_subject(section) if existing else _generation_subject(section, generation),
        existing=existing,
        rollover_without_overlap=section.boolean("rollover_without_overlap") if "rollover_without_overlap" in defaults else False,
    )


def _parse_client_cert(data: Any, path: str, defaults: dict[str, Any]) -> ClientCertSettings:
    section = _Section(data, path, defaults)
    validity_days = _validity_days(section, is_ca=False)
    return ClientCertSettings(
        **_parse_key(section),
        validity_days=validity_days,
        renew_before_days=_shorter_than_validity(section, "renew_before_days", validity_days),
        subject=_parse_subject(section),
    )


def parse_pki_settings(data: Optional[dict[str, Any]], path: str = "pki") -> PkiSettings:
    """Validate the `pki` config section (a plain dict of the keys that differ from the defaults)."""
    defaults = pki_defaults()
    section = _Section(data, path, defaults)
    passphrase = section.text("server_certs_key_passphrase", secret=True)
    if passphrase is not None and not _BASE64URL_32.fullmatch(passphrase):
        raise ConfigError(section.key("server_certs_key_passphrase"), SECRET_SHOWN_AS, "exactly 32 base64url characters (A-Z a-z 0-9 - _)")
    warnings: list[str] = []
    return PkiSettings(
        server_ca=_parse_ca(section.data.get("server_ca"), section.key("server_ca"), defaults["server_ca"], warnings),
        client_ca=_parse_ca(section.data.get("client_ca"), section.key("client_ca"), defaults["client_ca"], warnings),
        client_cert=_parse_client_cert(section.data.get("client_cert"), section.key("client_cert"), defaults["client_cert"]),
        heartbeat_key=section.text("heartbeat_key", secret=True),
        server_certs_key_passphrase=passphrase,
        warnings=tuple(warnings),
    )
