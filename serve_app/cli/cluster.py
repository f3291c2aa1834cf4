"""`agentctl cluster render`: KubeRay manifests for the platform, from the catalogue and the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agents import Catalog
from agents.errors import DefinitionError
from serve_app.cli.output import console, fail
from serve_app.kube import (
    DEFAULT_IMAGE,
    DEFAULT_NAME,
    MAX_OBJECT_BYTES,
    ManifestError,
    Profile,
    Target,
    object_bytes,
    render,
    write,
)
from serve_app.settings import get_settings

app = typer.Typer(help="Kubernetes manifests (KubeRay) for the platform.", no_args_is_help=True)


@app.callback()
def cluster() -> None:
    """Kubernetes manifests (KubeRay) for the platform."""


@app.command("render")
def render_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="directory to write the manifests to")
    ] = Path("cluster/rendered"),
    image: Annotated[
        str, typer.Option(help="container image holding the platform and its definitions")
    ] = DEFAULT_IMAGE,
    namespace: Annotated[
        str | None, typer.Option(help="namespace of every object; unset: the one kubectl uses")
    ] = None,
    name: Annotated[
        str, typer.Option(help="the RayService's name, prefix of the other objects")
    ] = DEFAULT_NAME,
    profile: Annotated[Profile, typer.Option(help="pod sizes and worker counts")] = "dev",
) -> None:
    """Write the RayService, a batch RayJob template, the Secret template and a PodMonitor."""
    settings = get_settings()
    try:
        target = Target(name=name, namespace=namespace, image=image, profile=profile)
        catalog = Catalog.load(settings.definitions_dir)
        manifests = render(catalog, settings, target)
    except DefinitionError as exc:
        fail("the catalogue does not load; nothing was written", lines=exc.lines())
    except ManifestError as exc:
        fail(str(exc))
    sizes = {file: object_bytes(manifest) for file, manifest in manifests.items()}
    for path in write(manifests, output):
        console.print(f"wrote {path} ({sizes[path.name]:,} bytes as JSON)")
    size = sizes["rayservice.yaml"]
    console.print(
        f"RayService {name}: {len(catalog)} agents, {size / MAX_OBJECT_BYTES:.1%} of the 1 MiB object "
        f"limit; the replicas read the definitions from {image}"
    )
    if profile == "prod" and _mutable(image):
        console.print(
            f"[yellow]warning[/]: {image} is not pinned; a new image under the same tag changes no "
            "manifest, so KubeRay starts no upgrade. Use a version tag or a digest."
        )


def _mutable(image: str) -> bool:
    if "@sha256:" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.endswith(":latest")
