"""Runtime settings, read from the environment (``KADATH_*``) and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every tunable of a Kadath server; each field is ``KADATH_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KADATH_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Where the SQLite file and secret live"
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite+aiosqlite:///… or postgresql+asyncpg://…; default: SQLite in data_dir",
    )
    db_pool_size: int = Field(default=10, ge=1, le=100)
    db_max_overflow: int = Field(default=10, ge=0, le=100)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)
    db_echo: bool = False

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    world_dir: Path | None = Field(default=None, description="World files; default: packaged world")

    secret_key: SecretStr | None = Field(
        default=None, description="JWT signing key; generated and stored in data_dir when absent"
    )
    access_token_minutes: int = Field(default=24 * 60, ge=1)
    registration: Literal["open", "invite"] = "open"
    password_hash_threads: int = Field(default=2, ge=1, le=32)
    login_rate_limit: str = Field(
        default="10/minute",
        description="Login attempts per account (three times as many per client address)",
    )
    registration_rate_limit: str = Field(
        default="5/hour",
        description="Registrations per client address: that many at once, refilled at that rate",
    )
    password_hash_queue: int = Field(
        default=16,
        ge=1,
        description="Password hashes that may wait for a hashing thread. A login past it, or a "
        "registration past a quarter of it, is answered 'busy, try again' (429) at once, so a "
        "registration flood cannot make logins wait",
    )
    argon2_time_cost: int | None = Field(
        default=None, ge=1, description="For tests: cheaper hashing"
    )
    argon2_memory_cost: int | None = Field(default=None, ge=8)

    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON lines; default: unless a TTY")

    max_line_length: int = Field(default=1000, ge=10)
    unauthenticated_connections_per_ip: int = Field(
        default=8,
        ge=1,
        description="WebSocket connections one address may hold open before completing hello; "
        "more are refused with a 'busy' error frame and closed 1013 (try again later)",
    )
    command_rate: str = "20/second"
    reconnect_grace_seconds: float = Field(default=30.0, ge=0)
    send_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="A client whose socket takes no frame for this long is closed (4408, or "
        "the connection is dropped) and its character goes link-dead",
    )

    tick_rate: float = Field(default=10.0, gt=0, le=100)
    combat_round_seconds: float = Field(default=2.0, gt=0, le=60)
    corpse_owner_grace_seconds: float = Field(default=300.0, ge=0)
    corpse_decay_seconds: float = Field(default=1800.0, ge=0)
    npc_spawning: bool = True

    telnet_host: str = "127.0.0.1"
    telnet_port: int = Field(default=4000, ge=0, le=65535, description="0 turns telnet off")
    telnet_login_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to sign in before the connection closes"
    )
    telnet_idle_timeout: int = Field(
        default=1800, ge=1, description="Seconds without input before the connection closes"
    )
    telnet_write_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a client may leave output unread"
    )
    telnet_connections_per_ip: int = Field(default=10, ge=1)
    telnet_negotiation_wait: float = Field(
        default=1.0, gt=0, description="Seconds to wait for option replies before the banner"
    )

    nats_url: str | None = Field(
        default=None,
        description="nats://host:4222 joins a cluster (kadath engine, kadath zones; PostgreSQL "
        "only); unset: one process, no NATS (docs/scaling.md)",
    )
    engine_id: str | None = Field(
        default=None, max_length=64, description="This engine's name; default: host-pid"
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^wss?://",
        max_length=500,
        description="This cluster process's WebSocket URL as clients reach it (ws://host:port/ws"
        "): a client that follows (protocol 4) is sent here for the zones held here; unset: "
        "clients are relayed to this process (docs/scaling.md, placement)",
    )
    zone_lease_seconds: float = Field(
        default=15.0, gt=0, description="A zone lease lapses this long after its last renewal"
    )
    zone_renew_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often an engine renews its leases (at most a third of zone_lease_seconds)",
    )
    zone_lease_bucket: str = Field(
        default="kadath_zones", pattern=r"^[A-Za-z0-9_-]+$", description="JetStream KV bucket"
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'kadath.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")
