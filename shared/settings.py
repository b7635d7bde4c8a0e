"""Service configuration, read from the environment (see the README's table)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Every knob the API and the worker read; one instance per process."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'kpi.sqlite3'}",
        description="SQLAlchemy async URL; unset means a SQLite file under ./data.",
    )
    redis_url: str | None = Field(default=None, description="Redis for the arq queue; unset means jobs run in-process.")
    platform_token: SecretStr | None = Field(
        default=None, description="Secret for POST /v1/orgs; unset disables that endpoint."
    )
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest request body accepted.")
    queue_name: str = "arq:kpi"
    job_timeout_s: int = Field(default=300, gt=0)
    run_crons: bool = Field(default=True, description="Embedded mode: run the cron jobs inside the API process")
    ingest_max_body_bytes: int = Field(default=33_554_432, gt=0, description="Body limit of /v1/ingest/ routes")
    ingest_max_points: int = Field(default=100_000, gt=0, description="Most points one ingest batch may carry")
    worker_metrics_port: int | None = Field(default=None, description="Serve the worker's Prometheus metrics here")
    ingest_pending_grace_s: int = Field(
        default=30, ge=0, description="A batch pending this long is enqueued again by the sweeper"
    )
    db_pool_size: int = Field(default=10, gt=0)
    public_base_url: str = "http://127.0.0.1:8000"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the common spellings and pick the async driver for them."""
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @field_validator("redis_url")
    @classmethod
    def _blank_is_unset(cls, url: str | None) -> str | None:
        return url or None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
