"""Authorisation decisions from the Rego policy in `authz.rego`, evaluated in process or by an OPA server.

PolicyError                  base of this package's errors
├── PolicyLoadError          the policy or its roles cannot be read or compiled (raised at construction)
├── PolicyEvaluationError    the in-process policy gave no valid decision for an input
└── PolicyUnavailableError   the OPA server gave no valid decision (unreachable, timeout, bad answer)

No error allows: a caller that cannot get a decision must refuse the request.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from regopy import Input, Interpreter, LogLevel, RegoError

POLICY_DIR = Path(__file__).resolve().parent
POLICY_FILE = "authz.rego"
ROLES_FILE = "roles.yaml"
DECISION_QUERY = "data.agents.authz.decision"
OPA_DECISION_PATH = "/v1/data/agents/authz/decision"
DEFAULT_CACHE_SIZE = 4096


class PolicyError(Exception):
    """Base of the policy errors."""


class PolicyLoadError(PolicyError):
    """The policy or its roles cannot be read or compiled."""


class PolicyEvaluationError(PolicyError):
    """The in-process policy gave no valid decision for an input."""


class PolicyUnavailableError(PolicyError):
    """The OPA server gave no valid decision; the request must not be allowed."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who asks: a user or an API key of a tenant."""

    tenant_id: str
    subject: str  # user id or API key id
    role: str  # "admin" | "developer" | "viewer"
    kind: str  # "user" | "api_key"
    scopes: frozenset[str] = frozenset()  # actions an API key is narrowed to; empty means the role's rights


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer; `reason` says which rule decided."""

    allow: bool
    reason: str


class PolicyEngine(Protocol):
    def decide(
        self, principal: Principal, action: str, resource: Mapping[str, str] | None = None
    ) -> Decision:
        """Whether `principal` may perform `action` on `resource` (`category`, `agent` for agent actions)."""
        ...


class RoleSpec(BaseModel):
    """One role of `roles.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: list[str]
    restricted_categories: list[str] = []
    denied_agents: list[str] = []


class RolesSpec(BaseModel):
    """`roles.yaml`: the data document of the policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: list[str]
    platform_actions: list[str] = []
    roles: dict[str, RoleSpec]

    @model_validator(mode="after")
    def _actions_are_known(self) -> Self:
        known = set(self.actions)
        named = set(self.platform_actions).union(*(role.actions for role in self.roles.values()))
        unknown = named - known - {"*"}
        if unknown:
            raise ValueError(f"actions not listed under `actions`: {', '.join(sorted(unknown))}")
        return self

    @classmethod
    def from_file(cls, path: Path) -> Self:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls.model_validate(raw)
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise PolicyLoadError(f"cannot load {path}: {exc}") from exc


_CacheKey = tuple[str, str, frozenset[str], str, str, str | None, str | None]


class _DecisionCache:
    """A bounded map of decisions that evicts the least recently used; size 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("cache_size must be >= 0")
        self._size = size
        self._items: OrderedDict[_CacheKey, Decision] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _CacheKey) -> Decision | None:
        with self._lock:
            decision = self._items.get(key)
            if decision is not None:
                self._items.move_to_end(key)
            return decision

    def put(self, key: _CacheKey, decision: Decision) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._items[key] = decision
            self._items.move_to_end(key)
            if len(self._items) > self._size:
                self._items.popitem(last=False)


class _CachedPolicy(ABC):
    """`decide` through a decision cache; subclasses evaluate the policy input on a miss.

    The policy input carries only what decisions depend on, and the tenant only as compared with the
    platform tenant, so one cached decision serves every principal with the same key.
    """

    def __init__(self, *, platform_tenant: str, cache_size: int) -> None:
        if not platform_tenant:
            raise ValueError("platform_tenant must not be empty")
        self._platform_tenant = platform_tenant
        self._cache = _DecisionCache(cache_size)

    def decide(
        self, principal: Principal, action: str, resource: Mapping[str, str] | None = None
    ) -> Decision:
        category = resource.get("category") if resource else None
        agent = resource.get("agent") if resource else None
        tenant_id = principal.tenant_id
        tenant = "platform" if tenant_id == self._platform_tenant else "other" if tenant_id else ""
        key = (principal.role, principal.kind, principal.scopes, tenant, action, category, agent)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._evaluate(self._input(principal, action, category, agent))
            self._cache.put(key, decision)
        return decision

    def _input(
        self, principal: Principal, action: str, category: str | None, agent: str | None
    ) -> dict[str, object]:
        resource: dict[str, str] = {}
        if category is not None:
            resource["category"] = category
        if agent is not None:
            resource["agent"] = agent
        return {
            "principal": {
                "tenant_id": principal.tenant_id,
                "role": principal.role,
                "kind": principal.kind,
                "scopes": sorted(principal.scopes),
            },
            "action": action,
            "resource": resource,
            "platform_tenant": self._platform_tenant,
        }

    @abstractmethod
    def _evaluate(self, document: dict[str, object]) -> Decision:
        """The policy's decision for one input document."""


def _decision_from(value: object) -> Decision | None:
    if not isinstance(value, dict):
        return None
    allow, reason = value.get("allow"), value.get("reason")
    if isinstance(allow, bool) and isinstance(reason, str):
        return Decision(allow=allow, reason=reason)
    return None


class RegoPolicy(_CachedPolicy):
    """The policy compiled once and evaluated in process by regopy.

    Reads `authz.rego` and `roles.yaml` from `policy_dir` (this package by default). Evaluations are
    serialised by a lock; a cache miss costs a few hundred microseconds, a hit a few.
    """

    def __init__(
        self,
        policy_dir: Path | None = None,
        *,
        platform_tenant: str = "default",
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        super().__init__(platform_tenant=platform_tenant, cache_size=cache_size)
        directory = policy_dir if policy_dir is not None else POLICY_DIR
        self.policy_file = directory / POLICY_FILE
        roles = platform_roles() if policy_dir is None else RolesSpec.from_file(directory / ROLES_FILE)
        try:
            source = self.policy_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyLoadError(f"cannot read {self.policy_file}: {exc}") from exc

        self._lock = threading.Lock()
        self._interpreter = Interpreter()
        self._interpreter.log_level = LogLevel.NONE
        try:
            self._interpreter.add_data_json(roles.model_dump_json())
            self._interpreter.add_module(str(self.policy_file), source)
            self._bundle = self._interpreter.build(DECISION_QUERY)
        except RegoError as exc:
            raise PolicyLoadError(f"cannot compile {self.policy_file}: {_rego_message(exc, source)}") from exc
        self._input_value: object = None

        probe = Principal(tenant_id=platform_tenant, subject="probe", role="viewer", kind="user")
        try:
            self._evaluate(self._input(probe, "agents:read", None, None))
        except PolicyEvaluationError as exc:
            raise PolicyLoadError(f"{self.policy_file}: {exc}") from exc

    def _evaluate(self, document: dict[str, object]) -> Decision:
        value = Input(document)
        try:
            with self._lock:
                self._interpreter.set_input(value)
                self._input_value = value  # regopy may refer to the input until the next one replaces it
                output = self._interpreter.query_bundle(self._bundle)
                ok: bool = output.ok()
                results = output.results
                expressions = results[0].expressions if ok and results else []
                result: object = expressions[0] if expressions else None
        except (RegoError, ValueError) as exc:
            raise PolicyEvaluationError(f"regopy could not evaluate {DECISION_QUERY}: {exc}") from exc
        if not ok:
            raise PolicyEvaluationError(f"regopy reported an error evaluating {DECISION_QUERY}")
        decision = _decision_from(result)
        if decision is None:
            found = "nothing" if result is None else json.dumps(result)
            raise PolicyEvaluationError(f"{DECISION_QUERY} must be {{allow, reason}}, got {found}")
        return decision


class OpaPolicy(_CachedPolicy):
    """Decisions from an OPA server that serves the `agents.authz` policy with `roles.yaml` as data.

    A cache miss is a blocking HTTP request of at most `timeout` seconds: async callers run `decide` in
    a worker thread.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        platform_tenant: str = "default",
        client: httpx.Client | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        super().__init__(platform_tenant=platform_tenant, cache_size=cache_size)
        self.endpoint = url.rstrip("/") + OPA_DECISION_PATH
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()

    def close(self) -> None:
        """Closes the HTTP client if this policy created it."""
        if self._owns_client:
            self._client.close()

    def _evaluate(self, document: dict[str, object]) -> Decision:
        try:
            response = self._client.post(self.endpoint, json={"input": document}, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise PolicyUnavailableError(f"OPA at {self.endpoint} failed: {exc!r}") from exc
        if response.status_code != 200:
            raise PolicyUnavailableError(f"OPA at {self.endpoint} answered HTTP {response.status_code}")
        try:
            body: object = response.json()
        except ValueError as exc:
            raise PolicyUnavailableError(f"OPA at {self.endpoint} answered a body that is not JSON") from exc
        decision = _decision_from(body.get("result") if isinstance(body, dict) else None)
        if decision is None:
            raise PolicyUnavailableError(
                f"OPA at {self.endpoint} answered no {{allow, reason}} result; is agents.authz loaded?"
            )
        return decision


@functools.cache
def platform_roles() -> RolesSpec:
    """The roles of this package's `roles.yaml`, read once per process."""
    return RolesSpec.from_file(POLICY_DIR / ROLES_FILE)


def load_policy(opa_url: str | None, *, platform_tenant: str = "default") -> PolicyEngine:
    """An `OpaPolicy` when `opa_url` is set, otherwise the in-process `RegoPolicy` of this package."""
    if opa_url:
        return OpaPolicy(opa_url, platform_tenant=platform_tenant)
    return RegoPolicy(platform_tenant=platform_tenant)


_REGO_ERROR = re.compile(r"\(error \d+:[^|]*\|(?P<offset>\d+)\|\d+\s*\(errormsg (?P<size>\d+):")


def _rego_message(exc: RegoError, source: str) -> str:
    """regopy's errors as `line:column: message`, or its raw text when that cannot be read."""
    text = str(exc)
    encoded = source.encode("utf-8")
    messages = []
    for match in _REGO_ERROR.finditer(text):
        offset = int(match["offset"])
        line = encoded.count(b"\n", 0, offset) + 1
        column = offset - encoded.rfind(b"\n", 0, offset)
        message = text[match.end() : match.end() + int(match["size"])]
        messages.append(f"{line}:{column}: {message}")
    return "; ".join(messages) if messages else text.strip()
