"""Authorisation policy: the role matrix, API key scopes, the platform tenant, load errors, and OPA parity."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from serve_app.policy import (
    Decision,
    OpaPolicy,
    PolicyLoadError,
    PolicyUnavailableError,
    Principal,
    RegoPolicy,
    load_policy,
)
from serve_app.policy.engine import POLICY_DIR

ACTIONS = (
    "agents:read",
    "agents:invoke",
    "agents:publish",
    "workflows:read",
    "workflows:run",
    "workflows:manage",
    "executions:read",
    "analytics:read",
    "analytics:platform",
    "events:read",
    "keys:manage",
    "keys:admin",
    "users:manage",
    "tenants:manage",
)
GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "developer": frozenset(
        {
            "agents:read",
            "agents:invoke",
            "agents:publish",
            "workflows:read",
            "workflows:run",
            "workflows:manage",
            "executions:read",
            "analytics:read",
            "events:read",
            "keys:manage",
        }
    ),
    "viewer": frozenset({"agents:read", "workflows:read", "analytics:read"}),
}
CATEGORIES = ("sales", "healthcare", "legal", "compliance")
RESTRICTED_FOR_DEVELOPERS = frozenset({"legal", "compliance"})
DENIED_AGENT = "contract-drafter"


def user(role: str, tenant: str = "default") -> Principal:
    return Principal(tenant_id=tenant, subject="u-1", role=role, kind="user")


def api_key(role: str, *scopes: str, tenant: str = "default") -> Principal:
    return Principal(tenant_id=tenant, subject="k-1", role=role, kind="api_key", scopes=frozenset(scopes))


def agent(category: str = "sales", name: str = "lead-scorer") -> dict[str, str]:
    return {"category": category, "agent": name}


@dataclass(frozen=True)
class Case:
    principal: Principal
    action: str
    resource: Mapping[str, str] | None
    allow: bool
    reason: str  # a substring of the decision's reason

    def id(self) -> str:
        p = self.principal
        scopes = ",".join(sorted(p.scopes))
        where = "/".join(self.resource.values()) if self.resource else "-"
        return f"{p.tenant_id}:{p.role}:{p.kind}[{scopes}]:{self.action}:{where}"


def _role_cases() -> list[Case]:
    cases = []
    for role, grants in GRANTS.items():
        for action in ACTIONS:
            resource = agent() if action == "agents:invoke" else None
            allowed = action in grants
            reason = "allowed" if allowed else f"role {role} may not {action}"
            cases.append(Case(user(role), action, resource, allowed, reason))
    return cases


def _category_cases() -> list[Case]:
    cases = []
    for role in GRANTS:
        for category in CATEGORIES:
            if role == "viewer":
                allowed, reason = False, "role viewer may not agents:invoke"
            elif role == "developer" and category in RESTRICTED_FOR_DEVELOPERS:
                allowed, reason = False, f"role developer may not invoke agents of category {category}"
            else:
                allowed, reason = True, "allowed"
            cases.append(Case(user(role), "agents:invoke", agent(category), allowed, reason))
    return cases


EDGE_CASES = [
    Case(user("owner"), "agents:read", None, False, "unknown role owner"),
    Case(user(""), "agents:read", None, False, "missing or empty input fields: principal.role"),
    Case(user("admin"), "agents:fly", None, False, "unknown action agents:fly"),
    Case(user("admin"), "", None, False, "missing or empty input fields: action"),
    Case(Principal("default", "s", "admin", "robot"), "agents:read", None, False, "unknown principal kind"),
    Case(user("admin", tenant=""), "agents:read", None, False, "principal.tenant_id"),
    Case(user("admin"), "agents:invoke", None, False, "resource.agent, resource.category"),
    Case(user("admin"), "agents:invoke", {"category": "sales"}, False, "resource.agent"),
    Case(user("developer"), "agents:read", {"category": "legal"}, True, "allowed"),
    # scopes narrow an API key to some of its role's actions; "*" keeps them all
    Case(api_key("developer"), "agents:invoke", agent(), True, "allowed"),
    Case(api_key("developer", "agents:read"), "agents:read", None, True, "allowed"),
    Case(api_key("developer", "agents:read"), "agents:invoke", agent(), False, "scope agents:invoke not"),
    Case(api_key("developer", "agents:invoke"), "agents:invoke", agent(), True, "allowed"),
    Case(api_key("developer", "*"), "workflows:manage", None, True, "allowed"),
    Case(api_key("developer", "*"), "users:manage", None, False, "role developer may not users:manage"),
    Case(api_key("viewer", "agents:invoke"), "agents:invoke", agent(), False, "role viewer may not"),
    Case(api_key("admin", "keys:manage"), "keys:admin", None, False, "scope keys:admin not granted"),
    Case(api_key("developer", "*"), "agents:invoke", agent("legal"), False, "category legal"),
    # tenants:manage belongs to the platform tenant's admins only
    Case(user("admin"), "tenants:manage", None, True, "allowed"),
    Case(user("admin"), "analytics:platform", None, True, "allowed"),
    Case(user("admin", tenant="acme"), "analytics:platform", None, False, "reserved to the platform tenant"),
    Case(user("admin", tenant="acme"), "tenants:manage", None, False, "reserved to the platform tenant"),
    Case(user("developer"), "tenants:manage", None, False, "role developer may not tenants:manage"),
    Case(api_key("admin", "*", tenant="acme"), "tenants:manage", None, False, "reserved to the platform"),
    Case(user("admin", tenant="acme"), "users:manage", None, True, "allowed"),
]
CASES = _role_cases() + _category_cases() + EDGE_CASES


@pytest.fixture(scope="module")
def policy() -> RegoPolicy:
    return RegoPolicy()


def _policy_dir(tmp_path: Path, *, rego: str | None = None, **changes: Any) -> Path:
    shutil.copy(POLICY_DIR / "authz.rego", tmp_path / "authz.rego")
    if rego is not None:
        (tmp_path / "authz.rego").write_text(rego)
    roles = yaml.safe_load((POLICY_DIR / "roles.yaml").read_text())
    for role, fields in changes.items():
        roles["roles"][role].update(fields)
    (tmp_path / "roles.yaml").write_text(yaml.safe_dump(roles))
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=Case.id)
def test_the_matrix(policy: RegoPolicy, case: Case) -> None:
    decision = policy.decide(case.principal, case.action, case.resource)
    assert decision.allow is case.allow
    assert case.reason in decision.reason


def test_an_agent_denied_to_a_role_can_be_read_but_not_invoked(tmp_path: Path) -> None:
    policy = RegoPolicy(_policy_dir(tmp_path, developer={"denied_agents": [DENIED_AGENT]}))
    denied = policy.decide(user("developer"), "agents:invoke", agent(name=DENIED_AGENT))
    assert denied == Decision(False, f"role developer may not invoke agent {DENIED_AGENT}")
    assert policy.decide(user("developer"), "agents:invoke", agent(name="lead-scorer")).allow
    assert policy.decide(user("developer"), "agents:read", agent(name=DENIED_AGENT)).allow
    assert policy.decide(user("admin"), "agents:invoke", agent(name=DENIED_AGENT)).allow


def test_restricted_categories_are_data(tmp_path: Path) -> None:
    policy = RegoPolicy(_policy_dir(tmp_path, developer={"restricted_categories": ["sales"]}))
    assert not policy.decide(user("developer"), "agents:invoke", agent("sales")).allow
    assert policy.decide(user("developer"), "agents:invoke", agent("legal")).allow


def test_the_platform_tenant_is_the_engines_setting() -> None:
    policy = RegoPolicy(platform_tenant="acme")
    assert policy.decide(user("admin", tenant="acme"), "tenants:manage").allow
    assert not policy.decide(user("admin", tenant="default"), "tenants:manage").allow


def test_a_cached_decision_does_not_cross_tenants(policy: RegoPolicy) -> None:
    assert policy.decide(user("admin", tenant="default"), "tenants:manage").allow
    assert not policy.decide(user("admin", tenant="acme"), "tenants:manage").allow
    assert not policy.decide(user("admin", tenant="globex"), "tenants:manage").allow
    assert not policy.decide(user("admin", tenant=""), "tenants:manage").allow


def test_decisions_are_consistent_across_threads() -> None:
    policy = RegoPolicy(cache_size=0)
    expected = {case.id(): case.allow for case in CASES}
    seen: dict[str, bool] = {}
    lock = threading.Lock()

    def work(cases: list[Case]) -> None:
        for case in cases:
            allow = policy.decide(case.principal, case.action, case.resource).allow
            with lock:
                seen[case.id()] = allow

    threads = [threading.Thread(target=work, args=(CASES[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == expected


def test_a_broken_policy_file_is_named_with_regopys_message(tmp_path: Path) -> None:
    directory = _policy_dir(tmp_path, rego='package agents.authz\n\ndecision := {"allow": true if {\n')
    with pytest.raises(PolicyLoadError, match=r"authz\.rego: 3:31: this is unclosed") as raised:
        RegoPolicy(directory)
    assert str(directory / "authz.rego") in str(raised.value)


def test_a_policy_without_a_decision_is_refused(tmp_path: Path) -> None:
    directory = _policy_dir(tmp_path, rego="package agents.other\n\nx := 1\n")
    with pytest.raises(PolicyLoadError, match=r"authz\.rego: .*must be \{allow, reason\}, got nothing"):
        RegoPolicy(directory)


def test_a_policy_with_a_malformed_decision_is_refused(tmp_path: Path) -> None:
    directory = _policy_dir(tmp_path, rego='package agents.authz\n\ndecision := {"allow": "yes"}\n')
    with pytest.raises(PolicyLoadError, match=r'authz\.rego: .*got \{"allow": "yes"\}'):
        RegoPolicy(directory)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"developer": {"actions": ["agents:fly"]}}, "actions not listed under `actions`: agents:fly"),
        ({"viewer": {"restricted_categoriez": ["legal"]}}, "restricted_categoriez"),
    ],
)
def test_a_broken_roles_file_is_named(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyLoadError, match=r"roles\.yaml") as raised:
        RegoPolicy(_policy_dir(tmp_path, **changes))
    assert message in str(raised.value)


def test_a_missing_policy_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match=r"nowhere/roles\.yaml"):
        RegoPolicy(tmp_path / "nowhere")


# -- OPA ---------------------------------------------------------------------------------------------

Answer = Literal["decision", "error", "garbage", "no_result", "bad_result", "slow"]


class FakeOpa(ThreadingHTTPServer):
    """An OPA server on loopback answering the decision endpoint with a `RegoPolicy`, or with a fault."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, policy: RegoPolicy) -> None:
        super().__init__(("127.0.0.1", 0), _OpaHandler)
        self.policy = policy
        self.answer: Answer = "decision"
        self.requests = 0
        self.released = threading.Event()  # set to let "slow" answers go

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on a slow answer is expected."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _OpaHandler(BaseHTTPRequestHandler):
    server: FakeOpa

    def do_POST(self) -> None:
        self.server.requests += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = self.server.answer
        if self.path != "/v1/data/agents/authz/decision":
            self._send(404, b"{}")
        elif answer == "error":
            self._send(500, b'{"code": "internal_error"}')
        elif answer == "garbage":
            self._send(200, b"<html>not opa</html>")
        elif answer == "no_result":
            self._send(200, b"{}")
        elif answer == "bad_result":
            self._send(200, b'{"result": {"allow": "true"}}')
        else:
            if answer == "slow":
                self.server.released.wait(timeout=5)
            decision = self._decide(body["input"])
            result = {"allow": decision.allow, "reason": decision.reason}
            self._send(200, json.dumps({"result": result}).encode())

    def _decide(self, document: dict[str, Any]) -> Decision:
        p = document["principal"]
        principal = Principal(p["tenant_id"], "opa", p["role"], p["kind"], frozenset(p["scopes"]))
        return self.server.policy.decide(principal, document["action"], document["resource"])

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def opa() -> Iterator[FakeOpa]:
    server = FakeOpa(RegoPolicy(cache_size=0))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def opa_policy(opa: FakeOpa) -> Iterator[OpaPolicy]:
    policy = OpaPolicy(opa.url, timeout=0.2)
    yield policy
    policy.close()


def test_opa_gives_the_same_decisions_as_regopy(opa_policy: OpaPolicy, policy: RegoPolicy) -> None:
    for case in CASES:
        assert opa_policy.decide(case.principal, case.action, case.resource) == policy.decide(
            case.principal, case.action, case.resource
        ), case.id()


def test_opa_decisions_are_cached(opa: FakeOpa, opa_policy: OpaPolicy) -> None:
    for tenant in ("acme", "globex", "initech"):
        assert opa_policy.decide(user("developer", tenant), "agents:invoke", agent()).allow
    assert opa.requests == 1
    assert opa_policy.decide(user("developer", "acme"), "agents:invoke", agent("legal")).allow is False
    assert opa.requests == 2


@pytest.mark.parametrize("answer", ["error", "garbage", "no_result", "bad_result", "slow"])
def test_a_failing_opa_never_allows(opa: FakeOpa, opa_policy: OpaPolicy, answer: Answer) -> None:
    opa.answer = answer
    with pytest.raises(PolicyUnavailableError, match="/v1/data/agents/authz/decision"):
        opa_policy.decide(user("admin"), "agents:read")
    opa.answer = "decision"
    assert opa_policy.decide(user("admin"), "agents:read") == Decision(True, "allowed")


def test_an_opa_that_is_not_listening_never_allows() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = OpaPolicy(f"http://127.0.0.1:{port}", timeout=0.5)
    try:
        with pytest.raises(PolicyUnavailableError, match="ConnectError"):
            policy.decide(user("admin"), "agents:read")
    finally:
        policy.close()


def test_load_policy_picks_opa_only_when_a_url_is_set() -> None:
    assert isinstance(load_policy(None), RegoPolicy)
    engine = load_policy("http://127.0.0.1:8181/", platform_tenant="acme")
    assert isinstance(engine, OpaPolicy)
    assert engine.endpoint == "http://127.0.0.1:8181/v1/data/agents/authz/decision"
    engine.close()
