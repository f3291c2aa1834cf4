"""Who is calling and may they: credentials to a `Principal`, the policy's decision, revocation and rate
limits. One Redis round trip per call (revocation and both rate-limit counters in one pipeline); API key
records are cached in process for `KEY_CACHE_SECONDS`, revocation is still seen at once through Redis."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from serve_app.db import DatabaseUnavailableError
from serve_app.errors import ForbiddenError, RateLimitedError, UnauthorizedError, UnavailableError
from serve_app.metrics import metrics
from serve_app.policy import PolicyEngine, PolicyUnavailableError, Principal
from serve_app.security.secrets import key_hash, parse_api_key, same_hash
from serve_app.security.tokens import Claims, TokenError, TokenIssuer
from serve_app.store import ApiKey, Store

KEY_CACHE_SECONDS = 30.0
WINDOW_SECONDS = 60
_MAX_CREDENTIAL = 4096


def revoked_token_key(jti: str) -> str:
    return f"revoked:jti:{jti}"


def revoked_api_key(key_id: str) -> str:
    return f"revoked:key:{key_id}"


@dataclass(frozen=True, slots=True)
class Limits:
    per_principal: int
    per_tenant: int
    fail_open: bool = False


class Guard:
    def __init__(
        self,
        store: Store,
        redis: Redis,
        policy: PolicyEngine,
        tokens: TokenIssuer,
        pepper: bytes,
        limits: Limits,
    ) -> None:
        self.store = store
        self.redis = redis
        self.policy = policy
        self.tokens = tokens
        self._pepper = pepper
        self.limits = limits
        self._keys: dict[str, tuple[float, ApiKey | None]] = {}

    # -- credentials -------------------------------------------------------------------------------

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """`Authorization: Bearer <token or API key>` or `X-API-Key`. Raises UnauthorizedError (401)."""
        credential = headers.get("x-api-key")
        if credential is None:
            authorization = headers.get("authorization")
            if authorization is None:
                raise UnauthorizedError("credentials are required: Authorization: Bearer ... or X-API-Key")
            scheme, _, credential = authorization.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise UnauthorizedError("the Authorization header must be 'Bearer <token or API key>'")
        credential = credential.strip()
        if len(credential) > _MAX_CREDENTIAL:
            raise UnauthorizedError("the credential is too long")
        prefix = parse_api_key(credential)
        if prefix is not None:
            key = await self._api_key(prefix, credential)
            principal = Principal(key.tenant_id, f"key:{key.id}", key.role, "api_key", frozenset(key.scopes))
            await self._check_live(principal, revoked_api_key(key.id))
            return principal
        try:
            claims = self.tokens.verify(credential)
        except TokenError as exc:
            raise UnauthorizedError(str(exc)) from exc
        principal = Principal(claims.tenant_id, f"user:{claims.subject}", claims.role, "user")
        await self._check_live(principal, revoked_token_key(claims.jti))
        return principal

    async def _api_key(self, prefix: str, secret: str) -> ApiKey:
        now = time.monotonic()
        cached = self._keys.get(prefix)
        if cached is None or now - cached[0] > KEY_CACHE_SECONDS:
            try:
                found = await self.store.find_api_key(prefix)
            except DatabaseUnavailableError as exc:
                raise UnavailableError("the credential store is unavailable") from exc
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[prefix] = cached = (now, found)
        key = cached[1]
        if key is None or not same_hash(key.hash, key_hash(self._pepper, secret)):
            raise UnauthorizedError("the API key is not valid")
        if key.revoked_at is not None:
            raise UnauthorizedError("the API key has been revoked")
        if key.expires_at is not None and key.expires_at.timestamp() <= time.time():
            raise UnauthorizedError("the API key has expired")
        return key

    def forget_key(self, prefix: str) -> None:
        self._keys.pop(prefix, None)

    async def _check_live(self, principal: Principal, revocation: str) -> None:
        """Revocation and both rate limits in one pipeline."""
        window = int(time.time()) // WINDOW_SECONDS
        per_principal = f"rl:p:{principal.subject}:{window}"
        per_tenant = f"rl:t:{principal.tenant_id}:{window}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.exists(revocation)
                pipe.incr(per_principal)
                pipe.expire(per_principal, WINDOW_SECONDS * 2)
                pipe.incr(per_tenant)
                pipe.expire(per_tenant, WINDOW_SECONDS * 2)
                revoked, principal_count, _, tenant_count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            if self.limits.fail_open:
                return
            raise UnavailableError(
                "revocation and rate limits cannot be checked: Redis is unavailable",
                details={"cause": type(exc).__name__},
            ) from exc
        if revoked:
            raise UnauthorizedError("the credential has been revoked")
        for scope, count, limit, whose in (
            ("principal", principal_count, self.limits.per_principal, "this credential"),
            ("tenant", tenant_count, self.limits.per_tenant, "this tenant"),
        ):
            if count > limit:
                if (recorder := metrics()) is not None:
                    recorder.rejected(scope)
                raise RateLimitedError(
                    f"over {limit} calls a minute for {whose}",
                    WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS,
                    details={"limit": limit, "scope": scope},
                )

    async def revoke_token(self, claims: Claims) -> None:
        """Revoked until the token would have expired anyway."""
        ttl = max(1, claims.expires_at - int(time.time()) + 5)
        try:
            await self.redis.set(revoked_token_key(claims.jti), "1", ex=ttl)
        except (RedisError, OSError) as exc:
            raise UnavailableError("the token cannot be revoked: Redis is unavailable") from exc

    async def is_revoked(self, claims: Claims) -> bool:
        try:
            return bool(await self.redis.exists(revoked_token_key(claims.jti)))
        except (RedisError, OSError) as exc:
            raise UnavailableError("revocation cannot be checked: Redis is unavailable") from exc

    async def mark_key_revoked(self, key: ApiKey) -> None:
        self.forget_key(key.prefix)
        # Should Redis be down, the revoked row still wins once caches expire (KEY_CACHE_SECONDS).
        with contextlib.suppress(RedisError, OSError):
            await self.redis.set(revoked_api_key(key.id), "1", ex=int(KEY_CACHE_SECONDS) * 4)

    # -- policy ------------------------------------------------------------------------------------

    def authorize(self, principal: Principal, action: str, resource: Mapping[str, str] | None = None) -> None:
        try:
            decision = self.policy.decide(principal, action, resource)
        except PolicyUnavailableError as exc:
            raise UnavailableError("the policy service is unavailable") from exc
        if not decision.allow:
            raise ForbiddenError(decision.reason, details={"action": action, "role": principal.role})

    async def check(
        self, headers: Mapping[str, str], action: str, resource: Mapping[str, str] | None = None
    ) -> Principal:
        principal = await self.authenticate(headers)
        self.authorize(principal, action, resource)
        return principal
