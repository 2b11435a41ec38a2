"""SIGNATURE_POLICY_FILE: parsing, validation errors naming their place, and rule matching."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.signature_policy import ENFORCE, OFF, WARN, SignaturePolicy, parse_policy
from tests.support.cosign import Key


def pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def indented(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.strip().splitlines())


def test_the_documented_yaml_example_loads_and_first_match_wins(tmp_path):
    release, partner = Key.generate(), Key.generate()
    path = tmp_path / "policy.yaml"
    path.write_text(f"""\
default: off            # unquoted: YAML reads this as false
rules:
  - match: "ghcr.io/acme/legacy-*"
    mode: warn
    keys:
      - id: partner
        public_key: |
{indented(partner.public_pem, 10)}
  - match: "ghcr.io/acme/*"
    mode: enforce
    keys:
      - id: acme-release
        public_key: |
{indented(release.public_pem, 10)}
""")
    policy = load_policy(str(path))
    assert policy.default == OFF
    mode, keys = policy.mode_for("ghcr.io/acme/legacy-restart")
    assert (mode, [key.id for key in keys]) == (WARN, ["partner"])  # both rules match; the first wins
    mode, keys = policy.mode_for("ghcr.io/acme/team/oomkill")  # "*" also crosses "/"
    assert (mode, [key.id for key in keys]) == (ENFORCE, ["acme-release"])
    assert keys[0].public_key.public_numbers() == release.private.public_key().public_numbers()
    assert policy.mode_for("quay.io/acme/oomkill") == (OFF, ())  # no rule: the default, no keys


def load_policy(path: str) -> SignaturePolicy | None:
    """The policy as start-up reads it (SIGNATURE_POLICY_FILE)."""
    return load_settings({"SIGNATURE_POLICY_FILE": path}).signature_policy


def test_json_is_accepted_and_the_default_applies_when_nothing_matches():
    key = Key.generate()
    policy = parse_policy(json.dumps({"default": "enforce", "rules": [
        {"match": "registry.local/*", "mode": "off"},
        {"match": "ghcr.io/acme/*", "mode": "warn", "keys": [{"id": "k", "public_key": key.public_pem}]},
    ]}))  # fmt: skip
    assert policy.mode_for("registry.local/tools/x") == (OFF, ())
    assert policy.mode_for("ghcr.io/acme/x")[0] == WARN
    assert policy.mode_for("docker.io/library/busybox") == (ENFORCE, ())


def rule(**fields):
    return {"match": "ghcr.io/acme/*", "mode": "enforce", "keys": [{"id": "k", "public_key": Key.generate().public_pem}],
            **fields}  # fmt: skip


def problems(document) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_policy(document if isinstance(document, str) else json.dumps(document), "SIGNATURE_POLICY_FILE (p.yaml)")
    return str(raised.value)


def test_a_bad_mode_is_named_by_its_place():
    message = problems({"default": "strict", "rules": [rule(), rule(mode="audit")]})
    assert message.startswith("SIGNATURE_POLICY_FILE (p.yaml) is not valid: ")
    assert "default: must be one of off, warn, enforce, not 'strict'" in message
    assert "rules[1].mode: must be one of off, warn, enforce, not 'audit'" in message
    assert "rules[0]" not in message


def test_a_bad_pem_is_rejected_at_load():
    message = problems(
        {"rules": [rule(), rule(keys=[{"id": "broken", "public_key": "-----BEGIN PUBLIC KEY-----\nnope\n"}])]}
    )
    assert "rules[1].keys[0].public_key: is not a valid PEM public key" in message


@pytest.mark.parametrize(
    ("public_key", "kind"),
    [(rsa.generate_private_key(65537, 2048).public_key(), "RSAPublicKey"),
     (ec.generate_private_key(ec.SECP384R1()).public_key(), "secp384r1")],
)  # fmt: skip
def test_keys_other_than_ecdsa_p256_are_rejected(public_key, kind):
    message = problems({"rules": [rule(keys=[{"id": "k", "public_key": pem(public_key)}])]})
    assert f"rules[0].keys[0].public_key: must be an ECDSA P-256 key, not {kind}" in message


def test_structural_mistakes_are_all_reported():
    message = problems({"default": "warn", "rulez": [], "rules": [
        rule(mach="typo"), rule(match=""), rule(keys=[]), rule(keys=[{"public_key": Key.generate().public_pem}]), "x",
    ]})  # fmt: skip
    assert "rulez: unknown field" in message
    assert "rules[0].mach: unknown field" in message
    assert "rules[1].match: must be a non-empty pattern" in message
    assert "rules[2].keys: mode enforce needs at least one trusted key" in message
    assert "rules[3].keys[0].id: must be a non-empty string" in message
    assert "rules[4]: must be a mapping" in message


def test_a_key_id_twice_in_one_rule_is_rejected():
    key = {"id": "release", "public_key": Key.generate().public_pem}
    assert "rules[0].keys[1].id: 'release' appears twice" in problems({"rules": [rule(keys=[key, key])]})


def test_unreadable_or_non_mapping_files_are_config_errors(tmp_path):
    assert "must be a mapping" in problems("")
    assert "is not valid YAML or JSON" in problems("rules: [unclosed")
    with pytest.raises(ConfigError, match=r"SIGNATURE_POLICY_FILE \(.*missing.yaml\) cannot be read"):
        load_policy(str(tmp_path / "missing.yaml"))


def test_a_broken_policy_file_stops_start_up(tmp_path):
    """Settings parse the policy once at start-up, so a bad file fails there, naming the variable."""
    from chalicelib.config import load_settings

    bad = tmp_path / "policy.yaml"
    bad.write_text("default: maybe\n")
    with pytest.raises(ConfigError, match="SIGNATURE_POLICY_FILE"):
        load_settings({"SIGNATURE_POLICY_FILE": str(bad)})
    good = tmp_path / "off.yaml"
    good.write_text("default: off\n")
    assert load_settings({"SIGNATURE_POLICY_FILE": str(good)}).signature_policy is not None
