"""`Idempotency-Key` on invoke: the first call with a key runs; a retry with the same key and the same request
gets the first answer back (no second model call); the same key with another request is refused (422); a
retry while the first is still running gets 409. Answers of 5xx are not kept, so such a call can be retried.
Kept in Redis for `TTL_SECONDS`."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from serve_app.errors import BadRequestError, ConflictError, IdempotencyMismatchError, UnavailableError

TTL_SECONDS = 24 * 3600
PENDING_SECONDS = 300
_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")


@dataclass(frozen=True, slots=True)
class Claim:
    redis_key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: dict[str, Any]


def fingerprint(agent: str, input: Any) -> str:
    return hashlib.sha256(
        agent.encode() + b"\0" + orjson.dumps(input, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


class Idempotency:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def begin(self, tenant_id: str, actor: str, key: str, agent: str, input: Any) -> Claim | Replay:
        """A Claim to run the call and `finish` it, or the Replay of the first answer."""
        if not _KEY.match(key):
            raise BadRequestError(
                "Idempotency-Key must be 1 to 200 letters, digits or _.:-",
                details={"header": "Idempotency-Key"},
            )
        claim = Claim(f"idem:{tenant_id}:{actor}:{key}", fingerprint(agent, input))
        pending = orjson.dumps({"fingerprint": claim.fingerprint, "state": "running"})
        try:
            if await self.redis.set(claim.redis_key, pending, nx=True, ex=PENDING_SECONDS):
                return claim
            stored = await self.redis.get(claim.redis_key)
        except (RedisError, OSError) as exc:
            raise UnavailableError("idempotency keys cannot be checked: Redis is unavailable") from exc
        if stored is None:  # expired between the two calls
            return await self.begin(tenant_id, actor, key, agent, input)
        record = orjson.loads(stored)
        if record["fingerprint"] != claim.fingerprint:
            raise IdempotencyMismatchError(
                "this Idempotency-Key was used with a different request",
                details={"header": "Idempotency-Key"},
            )
        if record["state"] == "running":
            raise ConflictError("a call with this Idempotency-Key is still running", details={"retry": True})
        return Replay(record["status"], record["body"])

    async def finish(self, claim: Claim, status: int, body: dict[str, Any]) -> None:
        try:
            if status >= 500:
                await self.redis.delete(claim.redis_key)
                return
            record = {"fingerprint": claim.fingerprint, "state": "done", "status": status, "body": body}
            await self.redis.set(claim.redis_key, orjson.dumps(record), ex=TTL_SECONDS)
        except (RedisError, OSError):
            pass  # the answer is still returned; a retry then runs again after PENDING_SECONDS

    async def abandon(self, claim: Claim) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(claim.redis_key)
