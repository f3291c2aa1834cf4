"""KubeRay manifests generated from the catalogue and the settings: a RayService that serves every agent,
a RayJob template for batch work, the Secret both read, and a PodMonitor for Ray's metrics.

The definitions ship inside the container image (`AGENTS_DEFINITIONS_DIR`). The RayService's
`serveConfigV2` carries each deployment's options and the digest of its definitions, not the definitions
themselves: packed, they weigh ~3.5 MB, above the 1 MiB a Kubernetes object may take in etcd.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import yaml

from agents import Catalog
from serve_app.app import serve_config
from serve_app.cluster import Ports, serve_environment
from serve_app.service import digest, unpack
from serve_app.settings import Settings

Profile = Literal["dev", "prod"]
Manifest = dict[str, Any]

MAX_OBJECT_BYTES = 1024 * 1024
DEFAULT_IMAGE = "ai-agents-platform:latest"
DEFAULT_NAME = "ai-agents"
DEFINITIONS_IN_IMAGE = "/app/definitions"
SECRET_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "AGENTS_JWT_SECRET",
    "AGENTS_KEY_PEPPER",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "AGENTS_API_KEY",  # read by batch jobs only: the platform API key they call the platform with
)
PLACEHOLDER = "CHANGE_ME"
PULL_POLICY = "IfNotPresent"
BATCH_FILES = "--input /data/in.jsonl --output /data/out.jsonl"  # placeholders, replaced per run
APP_NAME = "ai-agents-platform"

GCS_PORT = 6379
DASHBOARD_PORT = 8265
CLIENT_PORT = 10001
METRICS_PORT = 8080
# RayJob names are limited to 47 characters by KubeRay; the batch template's generated names add 12.
MAX_NAME_LENGTH = 35
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ManifestError(Exception):
    """A manifest that cannot be rendered as asked."""


class ManifestTooLargeError(ManifestError):
    """An object above the size Kubernetes stores."""


@dataclass(frozen=True, slots=True)
class Resources:
    """A container's requests; memory is also its limit, CPU may burst up to `cpu_limit`."""

    cpu: str
    memory: str
    cpu_limit: str

    def spec(self) -> Manifest:
        return {
            "requests": {"cpu": self.cpu, "memory": self.memory},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory},
        }


@dataclass(frozen=True, slots=True)
class Sizing:
    """What a profile changes: pod sizes, worker counts, idle times."""

    head: Resources
    worker: Resources
    min_workers: int
    max_workers: int
    batch_max_workers: int
    idle_timeout_s: int
    batch_ttl_s: int


SIZING: dict[Profile, Sizing] = {
    "dev": Sizing(
        head=Resources(cpu="1", memory="3Gi", cpu_limit="2"),
        worker=Resources(cpu="1", memory="2Gi", cpu_limit="2"),
        min_workers=1,
        max_workers=2,
        batch_max_workers=1,
        idle_timeout_s=60,
        batch_ttl_s=3600,
    ),
    "prod": Sizing(
        head=Resources(cpu="2", memory="8Gi", cpu_limit="4"),
        worker=Resources(cpu="4", memory="8Gi", cpu_limit="4"),
        min_workers=2,
        max_workers=10,
        batch_max_workers=4,
        idle_timeout_s=300,
        batch_ttl_s=600,
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where the platform runs: the objects' name prefix and namespace, the image, the profile."""

    name: str = DEFAULT_NAME
    namespace: str | None = None
    image: str = DEFAULT_IMAGE
    profile: Profile = "dev"

    def __post_init__(self) -> None:
        if len(self.name) > MAX_NAME_LENGTH or not _DNS_1035.match(self.name):
            raise ManifestError(
                f"name {self.name!r} must be a DNS-1035 label (lower case letters, digits and '-', "
                f"starting with a letter) of at most {MAX_NAME_LENGTH} characters"
            )
        if self.namespace is not None and not _DNS_1123.match(self.namespace):
            raise ManifestError(f"namespace {self.namespace!r} is not a valid Kubernetes name")
        if not self.image.strip():
            raise ManifestError("the image must not be empty")
        if self.profile not in SIZING:
            raise ManifestError(f"unknown profile {self.profile!r}; expected one of {', '.join(SIZING)}")

    @property
    def sizing(self) -> Sizing:
        return SIZING[self.profile]

    @property
    def secret_name(self) -> str:
        return f"{self.name}-secrets"


def render(catalog: Catalog, settings: Settings, target: Target) -> dict[str, Manifest]:
    """Every manifest, by the file name it is written to."""
    config = image_serve_config(serve_config(catalog, cluster_settings(settings)))
    return {
        "rayservice.yaml": rayservice(target, settings, config),
        "rayjob-batch.yaml": rayjob(target, settings),
        "secret.yaml": secret(target),
        "podmonitor.yaml": podmonitor(target),
    }


def write(manifests: dict[str, Manifest], directory: Path) -> list[Path]:
    """Writes each manifest as one YAML document; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, manifest in manifests.items():
        path = directory / file_name
        path.write_text(to_yaml(manifest), encoding="utf-8")
        written.append(path)
    return written


def cluster_settings(settings: Settings) -> Settings:
    """The settings as the cluster's Serve sees them: the proxy listens on every interface of its pod,
    where the Kubernetes Service reaches it."""
    return settings.model_copy(update={"http_host": "0.0.0.0"})


def image_serve_config(config: Manifest) -> Manifest:
    """A Serve config (from `serve_config`) whose deployments carry the digest of their definitions in
    `user_config` instead of the packed definitions, which the replicas read from the image."""
    applications = []
    for app in config["applications"]:
        deployments = []
        for deployment in app["deployments"]:
            user_config = dict(deployment["user_config"])
            if "agents" in user_config:
                user_config["digest"] = digest(unpack(user_config.pop("agents")))
            deployments.append({**deployment, "user_config": user_config})
        applications.append({**app, "deployments": deployments})
    return {**config, "applications": applications}


def rayservice(target: Target, settings: Settings, config: Manifest) -> Manifest:
    """The RayService serving `config`; refused above `MAX_OBJECT_BYTES`."""
    drain_s = math.ceil(settings.request_deadline) + 30
    service = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": _metadata(target, "serving", name=target.name),
        "spec": {
            # A changed cluster spec (image, env, sizes) starts a new cluster and moves traffic once it
            # serves; a changed serveConfigV2 alone is applied in place by Serve.
            "upgradeStrategy": {"type": "NewCluster"},
            "rayClusterDeletionDelaySeconds": drain_s,
            "excludeHeadPodFromServeSvc": True,
            "serveConfigV2": yaml.safe_dump(config, sort_keys=False, width=120),
            "rayClusterConfig": _cluster(
                target,
                settings,
                component="serving",
                env=_pairs(_serving_environment(target, settings)),
                env_from=[{"secretRef": {"name": target.secret_name}}],
                max_workers=target.sizing.max_workers,
                min_workers=target.sizing.min_workers,
                grace_s=drain_s,
            ),
        },
    }
    check_size(service)
    return service


def rayjob(target: Target, settings: Settings) -> Manifest:
    """A RayJob template on a cluster of its own, deleted `batch_ttl_s` after the job ends. The job calls
    the platform's API, so its containers get the batch API key and none of the platform's secrets."""
    sizing = target.sizing
    api = f"http://{target.name}-serve-svc:{settings.http_port}"
    api_key = {"secretKeyRef": {"name": target.secret_name, "key": "AGENTS_API_KEY"}}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        # A template: `kubectl create` gives each run a name of its own.
        "metadata": _metadata(target, "batch", generate_name=f"{target.name}-batch-"),
        "spec": {
            "entrypoint": f"python -m serve_app.batch --agent AGENT {BATCH_FILES} --api {api}",
            "submissionMode": "K8sJobMode",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": sizing.batch_ttl_s,
            "activeDeadlineSeconds": 6 * 3600,
            "backoffLimit": 0,
            "submitterConfig": {"backoffLimit": 2},
            "submitterPodTemplate": {
                "metadata": {"labels": _labels(target, "batch")},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "ray-job-submitter",
                            "image": target.image,
                            "imagePullPolicy": PULL_POLICY,
                            "resources": Resources(cpu="100m", memory="512Mi", cpu_limit="500m").spec(),
                        }
                    ],
                },
            },
            "rayClusterSpec": _cluster(
                target,
                settings,
                component="batch",
                env=[
                    *_pairs(_base_environment(target, settings)),
                    {"name": "AGENTS_API_KEY", "valueFrom": api_key},
                ],
                env_from=[],
                max_workers=sizing.batch_max_workers,
                min_workers=0,
                grace_s=30,
            ),
        },
    }


def secret(target: Target) -> Manifest:
    """The Secret every Ray container reads its secrets from, with placeholder values."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(target, "secrets", name=target.secret_name),
        "type": "Opaque",
        "stringData": dict.fromkeys(SECRET_KEYS, PLACEHOLDER),
    }


def podmonitor(target: Target) -> Manifest:
    """A Prometheus Operator PodMonitor for Ray's metrics on the head and workers of the platform's
    clusters (serving and batch), whatever the generated RayCluster names."""
    relabel = {
        "ray_io_cluster": "ray_io_cluster",
        "ray_io_node_type": "ray_io_node_type",
        "app_kubernetes_io_component": "component",
    }
    spec: Manifest = {
        "selector": {
            "matchLabels": {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": target.name},
            "matchExpressions": [{"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]}],
        },
        "podMetricsEndpoints": [
            {
                "port": "metrics",
                "path": "/metrics",
                "interval": "15s",
                "relabelings": [
                    {"sourceLabels": [f"__meta_kubernetes_pod_label_{source}"], "targetLabel": label}
                    for source, label in relabel.items()
                ],
            }
        ],
    }
    if target.namespace:
        spec["namespaceSelector"] = {"matchNames": [target.namespace]}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _metadata(target, "monitoring", name=f"{target.name}-ray"),
        "spec": spec,
    }


def object_bytes(manifest: Manifest) -> int:
    """The size of `manifest` as JSON, the encoding the API server stores custom resources in."""
    return len(json.dumps(manifest, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def check_size(manifest: Manifest) -> None:
    size = object_bytes(manifest)
    if size >= MAX_OBJECT_BYTES:
        kind, name = manifest.get("kind", "object"), manifest.get("metadata", {}).get("name", "?")
        raise ManifestTooLargeError(
            f"{kind} {name} would take {size:,} bytes; Kubernetes stores at most {MAX_OBJECT_BYTES:,}"
        )


def to_yaml(manifest: Manifest) -> str:
    return yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (serveConfigV2) as literal blocks, and shared values in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _represent_str)


def _labels(target: Target, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": target.name,
        "app.kubernetes.io/component": component,
    }


def _metadata(
    target: Target, component: str, *, name: str | None = None, generate_name: str | None = None
) -> Manifest:
    metadata: Manifest = {}
    if name is not None:
        metadata["name"] = name
    if generate_name is not None:
        metadata["generateName"] = generate_name
    if target.namespace:
        metadata["namespace"] = target.namespace
    metadata["labels"] = {**_labels(target, component), "app.kubernetes.io/managed-by": "agentctl"}
    return metadata


def _pairs(environment: dict[str, str]) -> list[Manifest]:
    return [{"name": key, "value": value} for key, value in environment.items()]


def _base_environment(target: Target, settings: Settings) -> dict[str, str]:
    """Platform settings every Ray process of the cluster needs; secrets come from the Secret."""
    return {
        "AGENTS_ENV": target.profile,
        "AGENTS_DEFINITIONS_DIR": DEFINITIONS_IN_IMAGE,
        "AGENTS_LOG_LEVEL": settings.log_level,
        "RAY_USAGE_STATS_ENABLED": "0",
    }


def _serving_environment(target: Target, settings: Settings) -> dict[str, str]:
    """The base environment plus Serve's, set before `ray start` as the container's environment.
    `RAY_AUTH_MODE` is left to KubeRay, which sets it with the token from `authOptions`."""
    serve = serve_environment(cluster_settings(settings), Ports())
    serve.pop("RAY_AUTH_MODE", None)
    return {
        **_base_environment(target, settings),
        "AGENTS_HTTP_HOST": "0.0.0.0",
        "AGENTS_HTTP_PORT": str(settings.http_port),
        # Ray reports a pod's disk usage (dashboards, the disk alert) only when asked to.
        "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE": "1",
        **serve,
    }


def _cluster(
    target: Target,
    settings: Settings,
    *,
    component: str,
    env: list[Manifest],
    env_from: list[Manifest],
    min_workers: int,
    max_workers: int,
    grace_s: int,
) -> Manifest:
    sizing = target.sizing
    serving = component == "serving"
    head_ports = {"gcs-server": GCS_PORT, "dashboard": DASHBOARD_PORT, "client": CLIENT_PORT}
    worker_ports: dict[str, int] = {}
    if serving:
        head_ports["serve"] = worker_ports["serve"] = settings.http_port
    head_ports["metrics"] = worker_ports["metrics"] = METRICS_PORT

    def template(container: str, resources: Resources, ports: dict[str, int], grace: int) -> Manifest:
        return {
            "metadata": {"labels": _labels(target, component)},
            "spec": {
                "terminationGracePeriodSeconds": grace,
                "containers": [
                    {
                        "name": container,
                        "image": target.image,
                        "imagePullPolicy": PULL_POLICY,
                        "env": env,
                        **({"envFrom": env_from} if env_from else {}),
                        "ports": [{"name": n, "containerPort": p} for n, p in ports.items()],
                        "resources": resources.spec(),
                    }
                ],
            },
        }

    return {
        "rayVersion": version("ray"),
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {
            "upscalingMode": "Default",
            "idleTimeoutSeconds": sizing.idle_timeout_s,
            "imagePullPolicy": PULL_POLICY,
            "resources": Resources(cpu="200m", memory="512Mi", cpu_limit="500m").spec(),
        },
        "authOptions": {"mode": "token"},
        "headGroupSpec": {
            "serviceType": "ClusterIP",
            # No CPUs on the head: replicas and tasks go to the workers, the head keeps GCS and Serve's
            # controller.
            "rayStartParams": {
                "dashboard-host": "0.0.0.0",
                "num-cpus": "0",
                "metrics-export-port": str(METRICS_PORT),
            },
            "template": template("ray-head", sizing.head, head_ports, 60),
        },
        "workerGroupSpecs": [
            {
                "groupName": "cpu",
                "replicas": min_workers,
                "minReplicas": min_workers,
                "maxReplicas": max_workers,
                "rayStartParams": {"metrics-export-port": str(METRICS_PORT)},
                "template": template("ray-worker", sizing.worker, worker_ports, grace_s),
            }
        ],
    }
