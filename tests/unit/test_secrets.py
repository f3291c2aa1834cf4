"""Signing keys outside dev, API key format, password hashing."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from serve_app.security.secrets import (
    WeakSecretError,
    hash_password,
    new_api_key,
    parse_api_key,
    signing_keys,
    verify_password,
)
from serve_app.settings import Settings


@pytest.mark.parametrize("env", ["test", "prod"])
def test_empty_default_or_short_keys_are_refused_outside_dev(env: str) -> None:
    strong = SecretStr("k" * 32)
    with pytest.raises(WeakSecretError, match="AGENTS_JWT_SECRET must be set"):
        signing_keys(Settings(env=env, key_pepper=strong))  # type: ignore[arg-type]
    with pytest.raises(WeakSecretError, match="AGENTS_KEY_PEPPER must be set"):
        signing_keys(Settings(env=env, jwt_secret=strong))  # type: ignore[arg-type]
    with pytest.raises(WeakSecretError, match="at least 32"):
        signing_keys(Settings(env=env, jwt_secret=SecretStr("short"), key_pepper=strong))  # type: ignore[arg-type]
    dev_default = SecretStr(signing_keys(Settings(env="dev"))[0].decode())
    with pytest.raises(WeakSecretError):
        signing_keys(Settings(env=env, jwt_secret=dev_default, key_pepper=strong))  # type: ignore[arg-type]
    assert signing_keys(Settings(env=env, jwt_secret=strong, key_pepper=SecretStr("p" * 40))) == (  # type: ignore[arg-type]
        b"k" * 32,
        b"p" * 40,
    )


def test_dev_runs_without_keys() -> None:
    secret, pepper = signing_keys(Settings(env="dev"))
    assert len(secret) >= 32 and len(pepper) >= 32


def test_api_keys_parse_only_when_well_formed() -> None:
    key = new_api_key()
    assert parse_api_key(key.secret) == key.prefix and len(key.prefix) == 12
    for bad in ("", "aap", "aap__x", "xyz_" + key.secret[4:], key.secret[:30], "aap_short_" + "x" * 50):
        assert parse_api_key(bad) is None


def test_passwords_verify_and_a_missing_hash_never_does() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong")
    assert not verify_password(None, "correct horse")
    assert not verify_password("not a hash", "x")
