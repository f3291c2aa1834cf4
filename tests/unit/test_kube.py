"""`agentctl cluster render`: KubeRay manifests that validate offline, fit in etcd and carry no secret.

KubeRay kinds are checked against the CRDs' OpenAPI v3 schemas with unknown fields refused (as
`kubectl apply --validate=strict` does), core kinds with kubernetes-validate, the PodMonitor by hand.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from typer.testing import CliRunner

from agents import Catalog
from serve_app.app import IMPORT_PATH, application_specs, serve_config
from serve_app.cli.cluster import app
from serve_app.cluster import Ports, serve_environment
from serve_app.kube import (
    MAX_OBJECT_BYTES,
    PLACEHOLDER,
    SECRET_KEYS,
    ManifestError,
    ManifestTooLargeError,
    Target,
    cluster_settings,
    object_bytes,
    rayservice,
    render,
    write,
)
from serve_app.settings import Settings

Manifest = dict[str, Any]
CRDS = Path(os.environ.get("KUBERAY_CRDS", "/work/shared/kuberay-crds"))
CRD_FILES = {"RayService": "ray.io_rayservices.yaml", "RayJob": "ray.io_rayjobs.yaml"}
KUBERNETES_VERSION = "1.30"
SELECTOR_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist"}

cli = CliRunner()


class InvalidManifestError(Exception):
    """A manifest the API server (or the Prometheus Operator) would refuse."""


# -- validation ----------------------------------------------------------------------------------


def strict_schema(node: Any) -> Any:
    """An OpenAPI v3 schema of a CRD as JSON Schema that refuses unknown fields. The `x-kubernetes-*`
    keys are left in: JSON Schema ignores unknown keywords, and `x-kubernetes-int-or-string` fields
    already spell out `anyOf: [integer, string]`."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: strict_schema(value) for key, value in node.items()}
    if schema.get("nullable") is True and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    return schema


def crd_validator(kind: str) -> jsonschema_rs.Validator:
    crd = yaml.load((CRDS / CRD_FILES[kind]).read_text(), Loader=yaml.CSafeLoader)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema_rs.validator_for(strict_schema(v1["schema"]["openAPIV3Schema"]))


def check_podmonitor(manifest: Manifest) -> list[str]:
    """The fields the Prometheus Operator needs to select pods and scrape them."""
    problems = []
    if not manifest.get("metadata", {}).get("name"):
        problems.append("metadata.name is required")
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return [*problems, "spec must be an object"]
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        problems.append("spec.selector needs matchLabels or matchExpressions")
    else:
        labels = selector.get("matchLabels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            problems.append("spec.selector.matchLabels must map strings to strings")
        for expression in selector.get("matchExpressions", []):
            if (
                not isinstance(expression.get("key"), str)
                or expression.get("operator") not in SELECTOR_OPERATORS
            ):
                problems.append(f"bad selector expression {expression}")
    endpoints = spec.get("podMetricsEndpoints")
    if not isinstance(endpoints, list) or not endpoints:
        problems.append("spec.podMetricsEndpoints must be a non-empty list")
        return problems
    for endpoint in endpoints:
        if not isinstance(endpoint.get("port"), str) and not isinstance(endpoint.get("portNumber"), int):
            problems.append("every endpoint needs a port name or a portNumber")
        for relabel in endpoint.get("relabelings", []):
            if not isinstance(relabel.get("sourceLabels", []), list):
                problems.append("relabelings[].sourceLabels must be a list")
    return problems


@pytest.fixture(scope="module")
def validate() -> Callable[[Manifest], None]:
    """Raises InvalidManifestError with every problem of a manifest of any kind the renderer writes."""
    if not CRDS.is_dir():
        pytest.skip(f"KubeRay CRDs not found in {CRDS} (set KUBERAY_CRDS)")
    validators = {kind: crd_validator(kind) for kind in CRD_FILES}

    def check(manifest: Manifest) -> None:
        kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
        if api_version == "ray.io/v1" and kind in validators:
            problems = [f"{e.instance_path}: {e.message}" for e in validators[kind].iter_errors(manifest)]
            metadata = manifest.get("metadata", {})
            if not (metadata.get("name") or metadata.get("generateName")):
                problems.append("metadata needs a name or a generateName")
        elif api_version == "v1":
            try:
                kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
                problems = []
            except kubernetes_validate.ValidationError as exc:
                problems = [f"{list(exc.path)}: {exc.message}"]
        elif api_version == "monitoring.coreos.com/v1" and kind == "PodMonitor":
            problems = check_podmonitor(manifest)
        else:
            problems = [f"no schema for {api_version} {kind}"]
        if problems:
            raise InvalidManifestError(f"{kind}: " + "; ".join(problems))

    return check


# -- rendering -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(high_throughput=True, http_port=8000, request_deadline=120.0)


@pytest.fixture(scope="module")
def rendered(catalog: Catalog, settings: Settings) -> dict[str, Manifest]:
    return render(catalog, settings, Target(profile="prod", namespace="agents"))


@pytest.fixture(scope="module")
def packed_config(catalog: Catalog, settings: Settings) -> Manifest:
    """The Serve config with the packed definitions, as `agentctl serve-config` writes it."""
    return serve_config(catalog, cluster_settings(settings))


@pytest.fixture(scope="module")
def written(rendered: dict[str, Manifest], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Manifest]:
    """The manifests as `write` leaves them on disk, read back."""
    directory = tmp_path_factory.mktemp("rendered")
    paths = write(rendered, directory)
    return {path.name: yaml.safe_load(path.read_text()) for path in paths}


def ray_containers(manifest: Manifest) -> Iterator[Manifest]:
    cluster = manifest["spec"].get("rayClusterConfig") or manifest["spec"]["rayClusterSpec"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        yield from group["template"]["spec"]["containers"]


def pod_templates(manifest: Manifest) -> Iterator[Manifest]:
    cluster = manifest["spec"].get("rayClusterConfig") or manifest["spec"]["rayClusterSpec"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        yield group["template"]


def test_the_renderer_writes_the_four_manifests(written: dict[str, Manifest]) -> None:
    assert {name: m["kind"] for name, m in written.items()} == {
        "rayservice.yaml": "RayService",
        "rayjob-batch.yaml": "RayJob",
        "secret.yaml": "Secret",
        "podmonitor.yaml": "PodMonitor",
    }
    assert all(m["metadata"]["namespace"] == "agents" for m in written.values())


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_manifest_of_every_profile_is_valid(
    profile: str,
    catalog: Catalog,
    settings: Settings,
    validate: Callable[[Manifest], None],
    tmp_path: Path,
) -> None:
    manifests = render(catalog, settings, Target(profile=profile))  # type: ignore[arg-type]
    for path in write(manifests, tmp_path):
        validate(yaml.safe_load(path.read_text()))


def test_serve_config_v2_has_every_application_but_not_the_definitions(
    written: dict[str, Manifest], packed_config: Manifest, catalog: Catalog, settings: Settings
) -> None:
    """The replicas read their definitions from the image; the config names the digest they must have."""
    from ray.serve.schema import ServeDeploySchema

    config = yaml.safe_load(written["rayservice.yaml"]["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(config)
    applications = config["applications"]
    assert len(applications) == 30
    assert {a["import_path"] for a in applications} == {IMPORT_PATH}
    assert config["http_options"]["host"] == "0.0.0.0"
    digests = {spec.name: spec.digest for spec in application_specs(catalog, cluster_settings(settings))}
    for application in applications:
        (deployment,) = application["deployments"]
        assert "agents" not in deployment["user_config"]
        assert deployment["user_config"]["digest"] == digests[application["name"]]
    for ours, packed in zip(applications, packed_config["applications"], strict=True):
        (deployment,), (packed_deployment,) = ours["deployments"], packed["deployments"]
        packed_user_config = {k: v for k, v in packed_deployment["user_config"].items() if k != "agents"}
        assert {**ours, "deployments": None} == {**packed, "deployments": None}
        assert {**deployment, "user_config": None} == {**packed_deployment, "user_config": None}
        assert {k: v for k, v in deployment["user_config"].items() if k != "digest"} == packed_user_config


def test_the_rayservice_fits_in_a_kubernetes_object(written: dict[str, Manifest]) -> None:
    assert object_bytes(written["rayservice.yaml"]) < MAX_OBJECT_BYTES


def test_a_rayservice_with_packed_definitions_is_refused(packed_config: Manifest, settings: Settings) -> None:
    with pytest.raises(ManifestTooLargeError, match="RayService ai-agents would take"):
        rayservice(Target(), settings, packed_config)


def test_every_serving_container_starts_ray_with_serves_environment_and_the_secret(
    written: dict[str, Manifest], settings: Settings
) -> None:
    service = written["rayservice.yaml"]
    expected = serve_environment(cluster_settings(settings), Ports())
    expected.pop("RAY_AUTH_MODE")
    containers = list(ray_containers(service))
    assert [c["name"] for c in containers] == ["ray-head", "ray-worker"]
    for container in containers:
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
        assert env["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"
        assert expected.items() <= env.items()
        assert "RAY_AUTH_MODE" not in env  # KubeRay sets it from authOptions, with the token
        assert env["AGENTS_DEFINITIONS_DIR"] == "/app/definitions"
        assert env["AGENTS_ENV"] == "prod"
        assert container["envFrom"] == [{"secretRef": {"name": written["secret.yaml"]["metadata"]["name"]}}]
        assert {"serve": 8000, "metrics": 8080}.items() <= {
            p["name"]: p["containerPort"] for p in container["ports"]
        }.items()


def test_the_cluster_autoscales_and_keeps_replicas_off_the_head(written: dict[str, Manifest]) -> None:
    service = written["rayservice.yaml"]["spec"]
    cluster = service["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["authOptions"] == {"mode": "token"}
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]} == {
        "gcs-server": 6379,
        "dashboard": 8265,
        "client": 10001,
        "serve": 8000,
        "metrics": 8080,
    }
    (workers,) = cluster["workerGroupSpecs"]
    assert (workers["minReplicas"], workers["maxReplicas"]) == (2, 10)
    assert service["upgradeStrategy"] == {"type": "NewCluster"}
    assert service["rayClusterDeletionDelaySeconds"] > 120  # in-flight calls finish on the old cluster


def test_the_batch_job_runs_on_a_cluster_of_its_own_that_goes_away(written: dict[str, Manifest]) -> None:
    job = written["rayjob-batch.yaml"]
    spec = job["spec"]
    assert job["metadata"]["generateName"] == "ai-agents-batch-"
    assert "clusterSelector" not in spec
    assert spec["rayClusterSpec"]["workerGroupSpecs"][0]["minReplicas"] == 0
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0
    assert spec["entrypoint"].startswith("python -m serve_app.batch --agent AGENT ")
    assert spec["entrypoint"].endswith(" --api http://ai-agents-serve-svc:8000")
    for container in ray_containers(job):
        assert "envFrom" not in container  # it calls the API: none of the platform's secrets
        (key,) = [e for e in container["env"] if e["name"] == "AGENTS_API_KEY"]
        assert key["valueFrom"] == {"secretKeyRef": {"name": "ai-agents-secrets", "key": "AGENTS_API_KEY"}}


def test_the_podmonitor_selects_every_ray_pod_of_the_platform(written: dict[str, Manifest]) -> None:
    selector = written["podmonitor.yaml"]["spec"]["selector"]
    for manifest in (written["rayservice.yaml"], written["rayjob-batch.yaml"]):
        for template in pod_templates(manifest):
            assert selector["matchLabels"].items() <= template["metadata"]["labels"].items()
    (expression,) = selector["matchExpressions"]
    assert expression == {"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]}
    (endpoint,) = written["podmonitor.yaml"]["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics"
    assert {r["targetLabel"] for r in endpoint["relabelings"]} >= {"ray_io_cluster", "ray_io_node_type"}


def test_the_secret_holds_placeholders_for_every_secret_setting(written: dict[str, Manifest]) -> None:
    secret = written["secret.yaml"]
    assert secret["stringData"] == dict.fromkeys(SECRET_KEYS, PLACEHOLDER)
    assert "data" not in secret


# -- validation refuses broken manifests -------------------------------------------------------------


def _without_head(m: Manifest) -> None:
    del m["spec"]["rayClusterConfig"]["headGroupSpec"]


def _text_max_replicas(m: Manifest) -> None:
    m["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = "ten"


def _misspelt_field(m: Manifest) -> None:
    m["spec"]["rayClusterConfig"]["enableInTreeAutoscalling"] = True


def _bad_quantity(m: Manifest) -> None:
    m["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"
    ]["memory"] = "8 GB"


def _serve_config_as_object(m: Manifest) -> None:
    m["spec"]["serveConfigV2"] = {"applications": []}


def _job_without_cluster_head(m: Manifest) -> None:
    del m["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]


def _secret_with_a_number(m: Manifest) -> None:
    m["stringData"]["REDIS_URL"] = 6379


def _secret_with_unknown_field(m: Manifest) -> None:
    m["strinData"] = m.pop("stringData")


def _podmonitor_without_endpoints(m: Manifest) -> None:
    del m["spec"]["podMetricsEndpoints"]


def _podmonitor_with_bad_operator(m: Manifest) -> None:
    m["spec"]["selector"]["matchExpressions"][0]["operator"] = "Contains"


@pytest.mark.parametrize(
    ("file_name", "breakage"),
    [
        ("rayservice.yaml", _without_head),
        ("rayservice.yaml", _text_max_replicas),
        ("rayservice.yaml", _misspelt_field),
        ("rayservice.yaml", _bad_quantity),
        ("rayservice.yaml", _serve_config_as_object),
        ("rayjob-batch.yaml", _job_without_cluster_head),
        ("secret.yaml", _secret_with_a_number),
        ("secret.yaml", _secret_with_unknown_field),
        ("podmonitor.yaml", _podmonitor_without_endpoints),
        ("podmonitor.yaml", _podmonitor_with_bad_operator),
    ],
)
def test_validation_refuses_a_broken_manifest(
    file_name: str,
    breakage: Callable[[Manifest], None],
    written: dict[str, Manifest],
    validate: Callable[[Manifest], None],
) -> None:
    manifest = copy.deepcopy(written[file_name])
    validate(manifest)
    breakage(manifest)
    with pytest.raises(InvalidManifestError):
        validate(manifest)


# -- the command ---------------------------------------------------------------------------------


def test_the_command_writes_the_manifests_without_any_secret_of_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validate: Callable[[Manifest], None]
) -> None:
    secrets = {
        "DATABASE_URL": "postgresql://agents:pg-s3cret-0001@db.internal:5432/agents",
        "REDIS_URL": "redis://:redis-s3cret-0002@cache.internal:6379/0",
        "AGENTS_JWT_SECRET": "jwt-s3cret-0003-" + "x" * 32,
        "AGENTS_KEY_PEPPER": "pepper-s3cret-0004-" + "y" * 32,
        "ANTHROPIC_API_KEY": "sk-ant-s3cret-0005",
        "OPENAI_API_KEY": "sk-openai-s3cret-0006",
        "AGENTS_API_KEY": "agents-s3cret-0007",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "rendered"
    options = ["--profile", "prod", "--image", "registry.example/agents:1.2.3", "--namespace", "agents-prod"]
    result = cli.invoke(app, ["render", "-o", str(out), *options, "--name", "agents"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "podmonitor.yaml",
        "rayjob-batch.yaml",
        "rayservice.yaml",
        "secret.yaml",
    ]
    for path in out.iterdir():
        text = path.read_text()
        assert not [key for key, value in secrets.items() if value in text or "s3cret" in text], path.name
        manifest = yaml.safe_load(text)
        validate(manifest)
        assert manifest["metadata"]["namespace"] == "agents-prod"
    service = yaml.safe_load((out / "rayservice.yaml").read_text())
    assert service["metadata"]["name"] == "agents"
    assert {c["image"] for c in ray_containers(service)} == {"registry.example/agents:1.2.3"}
    assert "not pinned" not in result.output


def test_the_command_warns_about_an_unpinned_image_in_prod(tmp_path: Path) -> None:
    result = cli.invoke(app, ["render", "-o", str(tmp_path), "--profile", "prod"])
    assert result.exit_code == 0, result.output
    assert "not pinned" in result.output


@pytest.mark.parametrize("name", ["Agents", "1agents", "a" * 36, "agents-"])
def test_the_command_refuses_a_name_kubernetes_would_refuse(name: str, tmp_path: Path) -> None:
    result = cli.invoke(app, ["render", "-o", str(tmp_path), "--name", name])
    assert result.exit_code == 1
    assert "DNS-1035" in result.output
    assert not list(tmp_path.iterdir())


def test_a_target_refuses_an_unknown_profile() -> None:
    with pytest.raises(ManifestError, match="unknown profile"):
        Target(profile="staging")  # type: ignore[arg-type]
