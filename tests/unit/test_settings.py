"""Settings: every variable documented, provider choice explained, unusable choices refused."""

from __future__ import annotations

import pytest

from serve_app.runtime import build_runner, choose_provider
from serve_app.settings import Settings
from tests.conftest import ROOT


def _variable(name: str) -> str:
    field = Settings.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [_variable(n) for n in Settings.model_fields if f"`{_variable(n)}`" not in readme]
    assert missing == []


def test_auto_prefers_anthropic_then_openai_then_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_provider(Settings()).name == "offline"
    assert "no LLM key" in choose_provider(Settings()).reason
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert choose_provider(Settings()).name == "openai"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    assert choose_provider(Settings()).name == "anthropic"


async def test_a_chosen_provider_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_PROVIDER", "anthropic")
    with pytest.raises(ValueError, match="anthropic"):
        build_runner(Settings())
    monkeypatch.setenv("AGENTS_PROVIDER", "offline")
    monkeypatch.setenv("AGENTS_FALLBACK_PROVIDERS", "openai")
    with pytest.raises(ValueError, match="openai"):
        build_runner(Settings())


async def test_the_runner_is_built_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("AGENTS_FALLBACK_PROVIDERS", "offline")
    monkeypatch.setenv("AGENTS_REQUEST_TIMEOUT", "7")
    monkeypatch.setenv("AGENTS_PII_MODE", "block")
    async with build_runner(Settings()) as runner:
        assert runner.default_provider == "anthropic"
        assert set(runner.provider_names) == {"anthropic", "offline"}
        assert runner.config.timeout == 7
        assert runner.guardrails.default_pii == "block"
