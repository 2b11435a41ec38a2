"""The image signature policy (SIGNATURE_POLICY_FILE) and the outcome of a signature check.

The file (YAML or JSON, see the README, "Image signatures") says, per "host/repository" pattern,
whether registration checks signatures (``off``, ``warn``, ``enforce``) and which ECDSA P-256 public
keys are trusted. It is validated completely when loaded: every problem is named by its place in
the file (``rules[1].keys[0].public_key``), and a bad file is a ConfigError that stops start-up
rather than a registration that silently skips verification. Parsed by hand on top of PyYAML
because the shape is tiny and the errors must name the rule; a schema library would add a
dependency for less readable messages.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.images import ImageReference
from chalicelib.domain.vocabularies import RegistrationReason, SignatureMode

OFF, WARN, ENFORCE = SignatureMode
MODES = tuple(SignatureMode)
SIGNATURE_MISSING = RegistrationReason.SIGNATURE_MISSING
SIGNATURE_INVALID = RegistrationReason.SIGNATURE_INVALID
_TOP_FIELDS = {"default", "rules"}
_RULE_FIELDS = {"match", "mode", "keys"}
_KEY_FIELDS = {"id", "public_key"}


@dataclass(frozen=True)
class TrustedKey:
    id: str
    public_key: ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class Rule:
    match: str  # fnmatch pattern on "host/repository"
    mode: str
    keys: tuple[TrustedKey, ...]


@dataclass(frozen=True)
class SignaturePolicy:
    default: str
    rules: tuple[Rule, ...] = ()

    def mode_for(self, image_name: str) -> tuple[str, tuple[TrustedKey, ...]]:
        """(mode, trusted keys) for ``host/repository``: the first matching rule, else the default (no keys)."""
        for rule in self.rules:
            # fnmatchcase: the same answer on every OS; "*" also crosses "/" (acme/* covers acme/a/b).
            if fnmatch.fnmatchcase(image_name, rule.match):
                return rule.mode, rule.keys
        return self.default, ()


@dataclass(frozen=True)
class SignatureResult:
    """What a signature check found about one image digest."""

    verified: bool
    key_id: str | None  # the trusted key that verified it
    reason: str | None  # SIGNATURE_MISSING / SIGNATURE_INVALID when not verified
    detail: str  # operator-readable: which key verified it, or exactly what was wrong
    mode: str = WARN  # the policy mode that asked for the check

    @property
    def rejects(self) -> bool:
        """True when the registration must fail (enforce and not verified)."""
        return self.mode == ENFORCE and not self.verified

    def summary(self) -> dict[str, Any]:
        """What version and search responses show."""
        return {"verified": self.verified, "key_id": self.key_id}

    def to_dict(self) -> dict[str, Any]:
        """What a registration records."""
        return {**self.summary(), "mode": self.mode, "reason": self.reason, "detail": self.detail}


class SignatureVerifier(Protocol):
    """Port used by the registration job (implemented in chalicelib/adapters/signatures)."""

    def check(self, reference: ImageReference, digest: str) -> SignatureResult | None:
        """The check of ``digest`` (what ``reference`` resolved to); None when the policy says off."""
        ...


def parse_policy(text: str, where: str = "signature policy") -> SignaturePolicy:
    try:
        document = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML or JSON: {exc}") from None
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ConfigError(f"{where} must be a mapping with 'default' and 'rules'")
    _unknown(document, _TOP_FIELDS, "", problems)
    default = _mode(document.get("default", OFF), "default", problems)
    raw_rules = document.get("rules") or []
    rules = []
    if not isinstance(raw_rules, list):
        problems.append("rules: must be a list")
        raw_rules = []
    for index, raw in enumerate(raw_rules):
        rule = _rule(raw, f"rules[{index}]", problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise ConfigError(f"{where} is not valid: " + "; ".join(problems))
    return SignaturePolicy(default=default, rules=tuple(rules))


def _rule(raw: object, place: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{place}: must be a mapping with match, mode and keys")
        return None
    _unknown(raw, _RULE_FIELDS, f"{place}.", problems)
    match = raw.get("match")
    if not isinstance(match, str) or not match.strip():
        problems.append(f"{place}.match: must be a non-empty pattern on host/repository")
    mode = _mode(raw.get("mode"), f"{place}.mode", problems)
    raw_keys = raw.get("keys") or []
    if not isinstance(raw_keys, list):
        problems.append(f"{place}.keys: must be a list")
        raw_keys = []
    keys = [key for i, item in enumerate(raw_keys) if (key := _key(item, f"{place}.keys[{i}]", problems))]
    if mode != OFF and not raw_keys:
        problems.append(f"{place}.keys: mode {mode} needs at least one trusted key")
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key.id in seen:
            problems.append(f"{place}.keys[{i}].id: '{key.id}' appears twice")
        seen.add(key.id)
    return Rule(match=str(match), mode=mode, keys=tuple(keys))


def _key(raw: object, place: str, problems: list[str]) -> TrustedKey | None:
    if not isinstance(raw, dict):
        problems.append(f"{place}: must be a mapping with id and public_key")
        return None
    _unknown(raw, _KEY_FIELDS, f"{place}.", problems)
    key_id, pem = raw.get("id"), raw.get("public_key")
    valid_id = key_id if isinstance(key_id, str) and key_id.strip() else None
    if valid_id is None:
        problems.append(f"{place}.id: must be a non-empty string")
    if not isinstance(pem, str):
        problems.append(f"{place}.public_key: must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
        return None
    try:
        public_key = load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as exc:
        problems.append(f"{place}.public_key: is not a valid PEM public key ({exc})")
        return None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        kind = getattr(getattr(public_key, "curve", None), "name", None) or type(public_key).__name__
        problems.append(f"{place}.public_key: must be an ECDSA P-256 key, not {kind}")
        return None
    return None if valid_id is None else TrustedKey(id=valid_id, public_key=public_key)


def _mode(raw: object, place: str, problems: list[str]) -> str:
    # YAML 1.1 reads a bare `off` as false; the documented example writes `default: off`.
    value = OFF if raw is False else raw
    if value not in MODES:
        problems.append(f"{place}: must be one of {', '.join(MODES)}, not {raw!r}")
        return OFF
    return str(value)


def _unknown(raw: dict, allowed: set[str], prefix: str, problems: list[str]) -> None:
    # A misspelt field (e.g. "mach") would otherwise silently turn a rule off.
    for name in sorted(set(map(str, raw)) - allowed):
        problems.append(f"{prefix}{name}: unknown field (expected {', '.join(sorted(allowed))})")
