"""Who may do what: the Rego authorisation policy and the engines that evaluate it."""

from serve_app.policy.engine import (
    Decision,
    OpaPolicy,
    PolicyEngine,
    PolicyError,
    PolicyEvaluationError,
    PolicyLoadError,
    PolicyUnavailableError,
    Principal,
    RegoPolicy,
    RoleSpec,
    RolesSpec,
    load_policy,
    platform_roles,
)

__all__ = [
    "Decision",
    "OpaPolicy",
    "PolicyEngine",
    "PolicyError",
    "PolicyEvaluationError",
    "PolicyLoadError",
    "PolicyUnavailableError",
    "Principal",
    "RegoPolicy",
    "RoleSpec",
    "RolesSpec",
    "load_policy",
    "platform_roles",
]
