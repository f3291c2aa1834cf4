"""Every setting of the platform, read from the environment (and `.env`) once, through `get_settings()`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderChoice = Literal["auto", "anthropic", "openai", "offline"]


def _beside_the_code(name: str, marker: str) -> Path:
    """`name` in the working directory when it holds `marker`, else `name` next to the packages."""
    here = Path.cwd() / name
    if (here / marker).is_file():
        return here
    return Path(__file__).resolve().parent.parent / name


def _default_definitions() -> Path:
    return _beside_the_code("definitions", "categories.yaml")


def _default_ui() -> Path:
    return _beside_the_code("dashboard", "index.html")


class Settings(BaseSettings):
    """Platform settings. Variables are prefixed `AGENTS_` except the providers' own standard names."""

    model_config = SettingsConfigDict(env_prefix="AGENTS_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field(default="dev", description="deployment environment")
    definitions_dir: Path = Field(default_factory=_default_definitions, description="the catalogue's root")
    log_level: str = Field(default="INFO")

    # -- model providers -------------------------------------------------------------------------
    provider: ProviderChoice = Field(
        default="auto", description="default provider; auto picks anthropic, then openai, then offline"
    )
    fallback_providers: str = Field(default="", description="comma-separated providers tried in order")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    anthropic_model: str = Field(default="claude-sonnet-5-5")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini")
    max_retries: int = Field(default=2, ge=0, le=10, description="SDK retries on 429/5xx/overloaded")
    request_timeout: float = Field(default=60.0, gt=0, le=600, description="seconds per provider attempt")
    request_deadline: float = Field(
        default=120.0, gt=0, le=1800, description="seconds for a whole provider call, retries included"
    )
    max_tokens: int = Field(default=1024, ge=1, le=64_000)
    temperature: float = Field(default=0.3, ge=0, le=2)
    pii_mode: Literal["off", "redact", "block"] = Field(default="redact", description="PII default")

    # -- serving ----------------------------------------------------------------------------------
    http_host: str = Field(default="127.0.0.1", description="address the API binds; 0.0.0.0 exposes it")
    http_port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=100 * 1024 * 1024)
    ray_port_offset: int = Field(
        default=0,
        ge=0,
        le=20_000,
        description="moves every port of the local Ray head (GCS 6380, dashboard 8265)",
    )
    ray_num_cpus: int | None = Field(default=None, ge=1, description="CPUs the local Ray head offers")
    high_throughput: bool = Field(
        default=True, description="Serve's HAProxy ingress and throughput-optimised data plane"
    )
    data_dir: Path = Field(default=Path(".data"), description="local state: Ray logs, pid files")
    replica_cpus: float = Field(default=0.05, gt=0, le=64, description="CPUs reserved by each replica")
    ui_dir: Path = Field(default_factory=_default_ui, description="the web UI's files, served at /ui/")
    proxy_location: Literal["EveryNode", "HeadOnly"] = Field(
        default="EveryNode", description="where Serve runs an HTTP ingress"
    )

    # -- data and security --------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL; unset: `agentctl up` starts an embedded one in the data directory",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias="REDIS_URL",
        description="Redis; unset: `agentctl up` starts an embedded one in the data directory",
    )
    opa_url: str | None = Field(
        default=None, validation_alias="OPA_URL", description="OPA server; unset: policies run in process"
    )
    auth: bool = Field(default=True, description="require a token or API key on every /v1 call")
    jwt_secret: SecretStr = Field(default=SecretStr(""), description="HS256 key; required outside dev")
    key_pepper: SecretStr = Field(default=SecretStr(""), description="API key hash key; required outside dev")
    token_ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, description="JWT lifetime")
    refresh_ttl_hours: int = Field(
        default=12, ge=1, le=24 * 90, description="lifetime of the web UI's refresh cookie"
    )
    cookie_secure: bool = Field(
        default=False, description="mark the refresh cookie Secure even when the request came over HTTP"
    )
    rate_limit_per_key: int = Field(default=1200, ge=1, description="calls per minute per API key or user")
    rate_limit_per_tenant: int = Field(default=6000, ge=1, description="calls per minute per tenant")
    redis_fail_open: bool = Field(
        default=False, description="on Redis errors skip revocation and rate limits instead of answering 503"
    )
    events_max_len: int = Field(default=100_000, ge=100, description="events kept in the Redis stream")
    db_pool_size: int = Field(default=4, ge=1, le=100, description="PostgreSQL connections per process")
    admin_email: str = Field(default="admin@example.com", description="the admin created on first start")

    @property
    def fallbacks(self) -> list[str]:
        return [p.strip() for p in self.fallback_providers.split(",") if p.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
