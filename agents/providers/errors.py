"""Turning an SDK's exceptions into the runtime's provider errors (both official SDKs share names)."""

from __future__ import annotations

from types import ModuleType

from agents.errors import (
    ProviderError,
    ProviderRateLimitError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)


def translate(exc: BaseException, *, sdk: ModuleType, provider: str) -> ProviderError:
    """The provider error for `exc`, raised by `sdk` (the `anthropic` or `openai` module)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError | sdk.APITimeoutError):
        return ProviderTimeoutError("no answer before the deadline", provider=provider)
    if isinstance(exc, sdk.RateLimitError):
        return ProviderRateLimitError("rate limited (429) after retries", provider=provider)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return ProviderUnavailableError(f"server error {status} after retries", provider=provider)
        return ProviderError(f"request refused with status {status}: {_brief(exc)}", provider=provider)
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderUnavailableError("cannot reach the API", provider=provider)
    return ProviderError(f"unexpected failure: {type(exc).__name__}", provider=provider)


def _brief(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
