"""What a cluster role needs from the settings, checked once at start-up."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from kadath.cluster.errors import ClusterRefused
from kadath.settings import Settings

NEEDS = (
    "a cluster needs PostgreSQL and NATS: set "
    "KADATH_DATABASE_URL=postgresql+asyncpg://… and KADATH_NATS_URL=nats://…"
)
MIN_PERIODS_PER_LEASE = 3


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    database_url: str
    nats_url: str
    engine_id: str
    lease_seconds: float
    renew_seconds: float
    bucket: str
    public_url: str | None = None  # where clients reach this process (placement)


def cluster_config(settings: Settings) -> ClusterConfig:
    """The cluster settings, or ClusterRefused saying what is missing or inconsistent."""
    url = settings.resolved_database_url()
    backend = make_url(url).get_backend_name()
    if not settings.nats_url or backend != "postgresql":
        found = f"database {backend}" + ("" if settings.nats_url else ", KADATH_NATS_URL unset")
        raise ClusterRefused(f"{NEEDS} (found: {found})")
    if settings.zone_lease_seconds < MIN_PERIODS_PER_LEASE * settings.zone_renew_seconds:
        raise ClusterRefused(
            f"KADATH_ZONE_LEASE_SECONDS ({settings.zone_lease_seconds:g}) must be at least "
            f"{MIN_PERIODS_PER_LEASE} renewal periods (KADATH_ZONE_RENEW_SECONDS="
            f"{settings.zone_renew_seconds:g})"
        )
    return ClusterConfig(
        database_url=url,
        nats_url=settings.nats_url,
        engine_id=settings.engine_id or f"{socket.gethostname()}-{os.getpid()}",
        lease_seconds=settings.zone_lease_seconds,
        renew_seconds=settings.zone_renew_seconds,
        bucket=settings.zone_lease_bucket,
        public_url=settings.public_url,
    )
