"""Service configuration, read from the environment (see the README's table)."""

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path

from limits import parse_many
from pydantic import Field, NonNegativeInt, SecretStr, field_validator
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
    ingest_body_retention_days: int = Field(
        default=30,
        gt=0,
        description="A done or failed batch's stored points are cleared this many days after it was accepted "
        "(what it merged stays; it can no longer be merged again)",
    )
    metric_partition_months_ahead: int = Field(
        default=3, ge=0, description="Postgres: month partitions of the metric tables created ahead of this month"
    )
    worker_metrics_port: int | None = Field(default=None, description="Serve the worker's Prometheus metrics here")
    worker_max_jobs: int = Field(
        default=4,
        gt=0,
        description="Jobs one worker process runs at once, and so the most it claims from the queue in one poll: "
        "small enough that a burst spreads over the replicas instead of landing on whichever polls first",
    )
    worker_poll_delay_s: float = Field(
        default=0.1, gt=0, description="How long an idle worker waits between two looks at the queue"
    )
    worker_health_key_per_host: bool = Field(
        default=False,
        description="Suffix the worker's health-check key with its host name, so that `arq --check` in a replica's "
        "probe sees that replica alive, not any of them (set it when several workers share one queue)",
    )
    ingest_pending_grace_s: int = Field(
        default=30, ge=0, description="A batch pending this long is enqueued again by the sweeper"
    )
    webhook_allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="Address ranges webhook URLs may point into despite the SSRF guard (on-premise receivers)",
    )
    webhook_retry_schedule_s: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Delays between delivery attempts (jittered ±20%)",
    )
    webhook_timeout_s: float = 15
    webhook_disable_after_days: float = Field(default=5, description="Disable an endpoint failing everything this long")
    webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="Seals webhook signing secrets at rest (AES-256-GCM); unset: stored as generated",
    )
    webhook_secret_overlap_hours: float = Field(default=24, description="How long the old secret still signs")
    alert_renotify_hours: float = Field(default=24, description="Re-send an open, unacknowledged alert this often")
    restatement_days: dict[str, NonNegativeInt] = Field(
        default_factory=lambda: {"meta": 28, "google_ads": 3, "tiktok": 7, "linkedin": 7, "default": 2},
        description="Days a source may still restate; a window reaching into them is provisional. An unlisted "
        "source gets `default` (0 when that is unlisted too, so {} means nothing is provisional); none negative",
    )
    overspend_threshold_pct: float = Field(default=100, description="budget.overspend fires past this % of a line")
    db_pool_size: int = Field(default=10, gt=0)
    public_base_url: str = "http://127.0.0.1:8000"
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs dashboard session cookies; set the same value on every API process "
        "(unset: a random secret per process, so a restart signs everyone out)",
    )
    session_max_age_s: int = Field(default=28_800, gt=0, description="Dashboard sign-in lifetime (8 h)")
    auth_fail_limit_per_address: str = Field(
        default="30/minute",
        description="Failed authentications (API key, platform token, dashboard sign-in) one client address may "
        "make before it gets 429 (`limits` notation; several joined by `;`, e.g. `30/minute;300/hour`)",
    )
    auth_fail_limit_per_prefix: str = Field(
        default="10/minute",
        description="Failed authentications one API key prefix may take, from any address, before it gets 429",
    )
    auth_throttle_key_prefix: str = Field(
        default="kpi:auth-throttle", description="Prefix of the throttle's Redis keys (when REDIS_URL is set)"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Address ranges of reverse proxies whose X-Forwarded-For names the client; empty: the "
        "connecting address is the client",
    )

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

    @field_validator("auth_fail_limit_per_address", "auth_fail_limit_per_prefix")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_many(value)  # a ValueError names the string that does not parse
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            ip_network(cidr, strict=False)
        return cidrs

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
