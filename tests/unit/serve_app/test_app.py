"""The generated Serve config: one application per category plus the gateway, definitions as user_config."""

from __future__ import annotations

import pytest

from agents import Catalog
from serve_app.app import DeploymentOverride, serve_config
from serve_app.cluster import Ports
from serve_app.service import unpack
from serve_app.settings import Settings


def test_serve_config_has_the_gateway_and_one_application_per_category(catalog: Catalog) -> None:
    config = serve_config(catalog, Settings(), {"legal": DeploymentOverride(min_replicas=2, max_replicas=8)})
    apps = {app["name"]: app for app in config["applications"]}
    assert len(apps) == 30
    assert apps["gateway"]["route_prefix"] == "/"
    assert len(unpack(apps["gateway"]["deployments"][0]["user_config"]["agents"])) == 1500
    legal = apps["legal"]
    assert legal["route_prefix"] == "/v1/categories/legal"
    assert legal["import_path"] == "serve_app.app:build_app" and legal["args"] == {"application": "legal"}
    deployment = legal["deployments"][0]
    assert deployment["name"] == "legal"
    assert len(unpack(deployment["user_config"]["agents"])) == len(catalog.in_category("legal"))
    assert deployment["autoscaling_config"]["min_replicas"] == 2
    assert deployment["autoscaling_config"]["max_replicas"] == 8
    assert deployment["max_ongoing_requests"] == 256
    assert deployment["ray_actor_options"] == {"num_cpus": 0.05}
    assert config["http_options"]["host"] == "127.0.0.1"


def test_ports_move_together_and_avoid_redis() -> None:
    ports = Ports().shifted(1000)
    assert ports.gcs == 7380 and ports.dashboard == 9265
    assert ports.direct_ingress_http == (31000, 31499)
    assert 6379 not in (Ports().gcs, ports.gcs)


def test_the_builder_takes_the_config_args_as_a_dict() -> None:
    from serve_app.app import build_app

    gateway = build_app({"application": "gateway"})
    legal = build_app({"application": "legal"})
    assert gateway._bound_deployment.name == "gateway"
    assert legal._bound_deployment.name == "legal"


def test_every_autoscaling_config_is_valid_for_serve_and_reports_each_second(catalog: Catalog) -> None:
    """Handles record and report queued calls every `metrics_interval_s`; a category scaled to zero
    starts when the controller sees one, so the interval bounds its cold start."""
    from ray.serve.config import AutoscalingConfig
    from ray.serve.schema import ServeDeploySchema

    config = serve_config(catalog, Settings())
    ServeDeploySchema.model_validate(config)
    for app in config["applications"]:
        (deployment,) = app["deployments"]
        assert AutoscalingConfig(**deployment["autoscaling_config"]).metrics_interval_s == 1.0


def test_replicas_read_their_definitions_from_disk_when_the_config_names_only_a_digest(
    catalog: Catalog,
) -> None:
    from agents.errors import DefinitionError
    from serve_app.kube import image_serve_config
    from serve_app.service import CategoryConfig, with_definitions
    from tests.conftest import DEFINITIONS

    config = image_serve_config(serve_config(catalog, Settings()))
    legal = next(a for a in config["applications"] if a["name"] == "legal")["deployments"][0]["user_config"]
    assert set(legal) == {"category", "digest"}
    loaded = CategoryConfig.model_validate(with_definitions(legal, DEFINITIONS, "legal"))
    assert len(loaded.agents) == len(catalog.in_category("legal"))
    with pytest.raises(DefinitionError, match="not the ones the Serve config names"):
        with_definitions({**legal, "digest": "0" * 16}, DEFINITIONS, "legal")
    packed = {"category": "legal", "agents": ["x"]}
    assert with_definitions(packed, DEFINITIONS, "legal") == packed
