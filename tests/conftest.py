"""Shared fixtures. No test reaches a real model API: provider keys are removed from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import Catalog

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"

_REAL_PROVIDER_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AGENTS_PROVIDER",
    "AGENTS_FALLBACK_PROVIDERS",
)


@pytest.fixture(autouse=True)
def _no_real_model_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _REAL_PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTS_ENV", "test")
    from serve_app.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load(DEFINITIONS)
