"""Composition of the Serve applications: the gateway at `/` and one application per category.

Each category deployment is the ingress of its own application, so a call to
`/v1/categories/<id>/agents/<name>/invoke` goes from the HTTP proxy straight to a replica of that
category. The definitions travel as each deployment's `user_config`, so a changed catalogue
reaches running replicas through `reconfigure`, without a restart.

`build_app` is the typed application builder named in the Serve config (`serve_app.app:build_app`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.serve import Application
from ray.serve.deployment import Deployment

from agents import Catalog
from serve_app.deployments.category import CategoryDeployment
from serve_app.deployments.gateway import Gateway
from serve_app.models import category_prefix
from serve_app.service import definition, digest, pack
from serve_app.settings import Settings

GATEWAY = "gateway"
IMPORT_PATH = "serve_app.app:build_app"


class AppArgs(BaseModel):
    """Arguments of `build_app`: which application, and optionally its deployment's options."""

    model_config = ConfigDict(extra="forbid")

    application: str = Field(default=GATEWAY, description="'gateway' or a category id")
    deployment: dict[str, Any] = Field(default_factory=dict, description="Serve deployment options")


def build_app(args: AppArgs | dict[str, Any]) -> Application:
    # Serve passes the config's `args` as a dict when it cannot resolve the annotation.
    args = args if isinstance(args, AppArgs) else AppArgs.model_validate(args)
    options = {k: v for k, v in args.deployment.items() if k != "name"}
    if args.application == GATEWAY:
        gateway: Deployment = serve.deployment(name=GATEWAY, **options)(Gateway)
        return gateway.bind()
    category: Deployment = serve.deployment(name=args.application, **options)(CategoryDeployment)
    return category.bind(args.application)


class DeploymentOverride(BaseModel):
    """Per-deployment settings that win over the catalogue's category defaults."""

    model_config = ConfigDict(extra="forbid")

    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    target_ongoing_requests: float | None = Field(default=None, gt=0)
    max_ongoing_requests: int | None = Field(default=None, ge=1)
    num_cpus: float | None = Field(default=None, gt=0)
    resources: dict[str, float] | None = Field(
        default=None, description="Ray resources each replica needs, e.g. to keep it on labelled nodes"
    )


@dataclass(frozen=True, slots=True)
class AppSpec:
    """One Serve application of the platform, with its single deployment's options."""

    name: str
    route_prefix: str
    deployment: dict[str, Any]
    digest: str  # of the definitions it carries, as its replicas report it in /healthz

    def build(self) -> Application:
        return build_app(AppArgs(application=self.name, deployment=self.deployment))

    def config(self) -> dict[str, Any]:
        """This application as an entry of a Serve config file."""
        return {
            "name": self.name,
            "route_prefix": self.route_prefix,
            "import_path": IMPORT_PATH,
            "args": {"application": self.name},
            "deployments": [self.deployment],
        }


def application_specs(
    catalog: Catalog, settings: Settings, overrides: dict[str, DeploymentOverride] | None = None
) -> list[AppSpec]:
    overrides = overrides or {}
    definitions = {s.name: definition(s) for s in catalog}
    specs = [
        _gateway(catalog, list(definitions.values()), settings, overrides.get(GATEWAY, DeploymentOverride()))
    ]
    for category in catalog.categories:
        d, o = category.deployment, overrides.get(category.id, DeploymentOverride())
        minimum = d.min_replicas if o.min_replicas is None else o.min_replicas
        agents = [definitions[s.name] for s in catalog.in_category(category.id)]
        deployment = {
            "name": category.id,
            "user_config": {"category": category.id, "agents": pack(agents)},
            "max_ongoing_requests": o.max_ongoing_requests or d.max_ongoing_requests,
            "autoscaling_config": _autoscaling(
                minimum,
                o.max_replicas or d.max_replicas,
                o.target_ongoing_requests or d.target_ongoing_requests,
            ),
            "ray_actor_options": _actor_options(o, settings),
            "graceful_shutdown_timeout_s": settings.request_deadline,
        }
        specs.append(AppSpec(category.id, category_prefix(category.id), deployment, digest(agents)))
    return specs


def serve_config(
    catalog: Catalog, settings: Settings, overrides: dict[str, DeploymentOverride] | None = None
) -> dict[str, Any]:
    """The declarative Serve config (`serve deploy`, KubeRay `serveConfigV2`) for the whole platform."""
    return {
        "proxy_location": settings.proxy_location,
        "http_options": http_options(settings),
        "logging_config": logging_config(settings),
        "applications": [spec.config() for spec in application_specs(catalog, settings, overrides)],
    }


def http_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.http_host,
        "port": settings.http_port,
        "request_timeout_s": settings.request_deadline,
    }


def logging_config(settings: Settings) -> dict[str, Any]:
    return {"encoding": "JSON", "log_level": settings.log_level, "enable_access_log": False}


def _gateway(
    catalog: Catalog, agents: list[dict[str, Any]], settings: Settings, o: DeploymentOverride
) -> AppSpec:
    deployment = {
        "name": GATEWAY,
        "user_config": {
            "categories": [c.model_dump(mode="json") for c in catalog.categories],
            "agents": pack(agents),
        },
        "max_ongoing_requests": o.max_ongoing_requests or 1024,
        "autoscaling_config": _autoscaling(
            1 if o.min_replicas is None else o.min_replicas,
            o.max_replicas or 4,
            o.target_ongoing_requests or 64,
        ),
        "ray_actor_options": _actor_options(o, settings),
    }
    return AppSpec(GATEWAY, "/", deployment, digest(agents))


def _actor_options(o: DeploymentOverride, settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": o.num_cpus or settings.replica_cpus}
    if o.resources:
        options["resources"] = o.resources
    return options


def _autoscaling(minimum: int, maximum: int, target: float) -> dict[str, Any]:
    """Serve's autoscaling config. Ray 2.60 still takes the interval at which handles record and
    report queued calls from `metrics_interval_s` (10 s by default, deprecated in favour of variables
    it does not read yet): at 1 s, the first call to a category scaled to zero starts a replica in
    about a second instead of up to ten, for 0.03 core more idle load on the controller."""
    return {
        "min_replicas": minimum,
        "max_replicas": maximum,
        "target_ongoing_requests": target,
        "upscale_delay_s": 3.0,
        "downscale_delay_s": 300.0,
        "metrics_interval_s": 1.0,
    }
