"""Platform settings: explicit arguments, then ``TRADEREADY_*`` environment variables, then defaults.

Settings are read once, when :func:`tradeready.server.app.create_app` builds the application, and are
injected into routes through :data:`tradeready.server.api.deps.SettingsDep`; nothing reads the
environment at import time.

Example::

    settings = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    app = create_app(settings)
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_home"]


def default_home() -> Path:
    """The user's data directory for TradeReady (``$XDG_DATA_HOME/tradeready`` or ``~/.local/share/tradeready``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tradeready"


class Settings(BaseSettings):
    """Configuration of one platform instance."""

    model_config = SettingsConfigDict(env_prefix="TRADEREADY_", env_ignore_empty=True, extra="ignore")

    home: Path = Field(default_factory=default_home, description="Data directory (SQLite file, caches, secrets).")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite (WAL) at <home>/tradeready.db."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    migrate_on_start: bool = True
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="Request body limit (413 above).")
    rate_limit_per_minute: int = Field(default=120_000, ge=0, description="Requests per API key per minute; 0 = off.")
    heartbeat_timeout_s: float = Field(
        default=120.0, gt=0, description="A running training run without heartbeats for this long is 'abandoned'."
    )
    auth_cache_ttl_s: float = Field(
        default=2.0,
        ge=0,
        description="Seconds a worker may reuse a verified API key before checking the database again "
        "(bounds how long a key revoked through another worker keeps working; 0 = always check).",
    )
    backtest_idle_timeout_s: float = Field(
        default=3600.0, gt=0, description="Idle backtest sessions expire after this."
    )
    max_steps_per_request: int = Field(default=100_000, ge=1, description="Upper bound of `steps` in one step request.")
    max_cached_sessions: int = Field(default=64, ge=1, description="Simulators kept hot per worker (LRU).")
    session_secret: str | None = Field(default=None, description="Dashboard cookie signing secret.")
    session_max_age_s: int = Field(default=7 * 24 * 3600, ge=60)
    log_level: str = "info"

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, or the embedded SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'tradeready.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
