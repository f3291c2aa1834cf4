"""HS256 tokens: `sub`, `tenant`, `role`, `jti`, `iat`, `exp`, `iss` and `typ`. Only HS256 is accepted, every
claim is required, and a revoked `jti` is refused by the caller (see `serve_app.security.guard`).

An `access` token authenticates API calls; a `refresh` token (the web UI's HttpOnly cookie) only buys a new
access token, and neither is accepted in the other's place."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt

ALGORITHM = "HS256"
ISSUER = "ai-agents-platform"
_REQUIRED = ["sub", "tenant", "role", "jti", "iat", "exp", "iss", "typ"]
TokenType = Literal["access", "refresh"]


class TokenError(ValueError):
    """The token is malformed, wrongly signed, expired or lacks a claim."""


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    tenant_id: str
    role: str
    jti: str
    expires_at: int


class TokenIssuer:
    def __init__(self, secret: bytes, ttl_seconds: int, refresh_ttl_seconds: int = 12 * 3600) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self.refresh_ttl_seconds = refresh_ttl_seconds

    def issue(
        self,
        subject: str,
        tenant_id: str,
        role: str,
        *,
        now: float | None = None,
        typ: TokenType = "access",
    ) -> tuple[str, Claims]:
        issued = int(now if now is not None else time.time())
        ttl = self.ttl_seconds if typ == "access" else self.refresh_ttl_seconds
        claims = Claims(subject, tenant_id, role, secrets.token_hex(16), issued + ttl)
        payload = {
            "sub": subject,
            "tenant": tenant_id,
            "role": role,
            "jti": claims.jti,
            "iat": issued,
            "exp": claims.expires_at,
            "iss": ISSUER,
            "typ": typ,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def verify(self, token: str, typ: TokenType = "access") -> Claims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": _REQUIRED},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"the token is invalid: {exc}") from exc
        if payload["typ"] != typ:
            raise TokenError(f"the token is invalid: {typ} token expected")
        values = [payload.get(k) for k in ("sub", "tenant", "role", "jti")]
        strings = [v for v in values if isinstance(v, str) and v]
        if len(strings) != len(values) or not isinstance(payload["exp"], int):
            raise TokenError("the token is invalid: malformed claims")
        return Claims(strings[0], strings[1], strings[2], strings[3], payload["exp"])
