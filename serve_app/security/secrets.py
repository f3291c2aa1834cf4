"""Passwords (argon2id), API key secrets (shown once, stored as a keyed hash, found by a public prefix) and
the check that refuses weak signing keys outside dev."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from serve_app.settings import Settings

KEY_PREFIX = "aap"
_DEV_SECRET = "dev-only-insecure-signing-key-0123456789"
_MIN_SECRET = 32
_hasher = PasswordHasher()
# Verified when the user does not exist, so that an unknown e-mail costs what a wrong password costs.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class WeakSecretError(ValueError):
    """A signing key or pepper that must not be used outside dev."""


def signing_keys(settings: Settings) -> tuple[bytes, bytes]:
    """(JWT secret, API key pepper). Dev may run with neither; test and prod must set both, long enough."""
    found = []
    for label, value in (
        ("AGENTS_JWT_SECRET", settings.jwt_secret),
        ("AGENTS_KEY_PEPPER", settings.key_pepper),
    ):
        secret = value.get_secret_value()
        if not secret or secret == _DEV_SECRET:
            if settings.env != "dev":
                raise WeakSecretError(f"{label} must be set outside dev (AGENTS_ENV={settings.env})")
            secret = _DEV_SECRET
        elif len(secret) < _MIN_SECRET and settings.env != "dev":
            raise WeakSecretError(f"{label} must be at least {_MIN_SECRET} characters")
        found.append(secret.encode())
    return found[0], found[1]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not `stored` exists."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str  # public, indexed: finds the row
    secret: str  # the whole key, shown once


def new_api_key() -> NewKey:
    prefix = secrets.token_hex(6)
    return NewKey(prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}")


def parse_api_key(value: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 40:
        return None
    return parts[1]


def key_hash(pepper: bytes, secret: str) -> bytes:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).digest()


def same_hash(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
