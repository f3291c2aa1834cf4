"""Builds the agent runtime (providers, guardrails, runner) from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from agents import AgentRunner, Catalog
from agents.guardrails import Guardrails
from agents.providers import OfflineProvider, Provider
from agents.runner import RunnerConfig
from serve_app.settings import Settings


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    name: str
    reason: str


def choose_provider(settings: Settings) -> ProviderChoice:
    """The default provider, and why it was chosen."""
    if settings.provider != "auto":
        return ProviderChoice(settings.provider, f"AGENTS_PROVIDER={settings.provider}")
    if settings.anthropic_api_key is not None:
        return ProviderChoice("anthropic", "ANTHROPIC_API_KEY is set")
    if settings.openai_api_key is not None or settings.openai_base_url:
        return ProviderChoice("openai", "OPENAI_API_KEY or OPENAI_BASE_URL is set")
    return ProviderChoice(
        "offline", "no LLM key is configured: agents answer with the offline provider (schema-valid samples)"
    )


def build_providers(settings: Settings) -> dict[str, Provider]:
    """Every provider that can be built from the settings. `offline` always exists."""
    providers: dict[str, Provider] = {"offline": OfflineProvider()}
    # The SDKs are imported only when configured: each costs tens of megabytes in every replica.
    if settings.anthropic_api_key is not None or settings.anthropic_base_url:
        from agents.providers.anthropic import AnthropicProvider

        providers["anthropic"] = AnthropicProvider(
            api_key=settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else "unused",
            base_url=settings.anthropic_base_url,
            model=settings.anthropic_model,
            max_retries=settings.max_retries,
        )
    if settings.openai_api_key is not None or settings.openai_base_url:
        from agents.providers.openai import OpenAIProvider

        providers["openai"] = OpenAIProvider(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            max_retries=settings.max_retries,
        )
    return providers


def build_runner(settings: Settings) -> AgentRunner:
    choice = choose_provider(settings)
    providers = build_providers(settings)
    missing = [n for n in (choice.name, *settings.fallbacks) if n not in providers]
    if missing:
        raise ValueError(f"provider(s) {', '.join(missing)} chosen but not configured (no key or base URL)")
    return AgentRunner(
        providers,
        default_provider=choice.name,
        fallbacks=settings.fallbacks,
        config=RunnerConfig(
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            timeout=settings.request_timeout,
            deadline=settings.request_deadline,
        ),
        guardrails=Guardrails(default_pii=settings.pii_mode),
    )


def load_catalog(settings: Settings) -> Catalog:
    return Catalog.load(settings.definitions_dir)
