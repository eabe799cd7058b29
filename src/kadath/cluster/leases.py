"""Zone leases in a NATS JetStream key-value bucket (docs/scaling.md, "Zone ownership").

One key per zone, ``zone.<id>``, holding ``{"owner": engine, "epoch": n}``:

- acquire = ``kv.create`` (refused while the key exists); the revision it returns is the
  lease's **epoch**, recorded in PostgreSQL through ``fencing.fence`` before the zone is
  reported held;
- renew = ``kv.update(last=revision)``, a compare-and-swap: it fails if anyone else wrote;
- the bucket's TTL (``max_age``) is the lease: a key not renewed for that long disappears, and
  the settings keep it at least three renewal periods;
- release = ``kv.delete(last=revision)``.

Each renewal first re-confirms the epochs in PostgreSQL (one committed ``fencing.confirm`` for all
held zones), then renews each key in NATS.
A refused fence (a newer epoch recorded), a refused compare-and-swap (someone else holds the key),
or renewals failing for a whole lease period (NATS unreachable) drop the zone: the manager
forgets it and calls ``on_lost`` so the engine stops serving it. So does a write of zone state
guarded by ``ZoneLeaseManager.fence`` that meets a newer epoch. nats-py reconnects on its own;
the manager only needs the same ``KeyValue`` handle afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.js.kv import KeyValue
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.cluster import fencing
from kadath.cluster.config import ClusterConfig
from kadath.cluster.errors import ClusterRefused, ClusterUnreachable, Fenced, NotHeld
from kadath.cluster.fencing import Claim

ZONE_PREFIX = "zone."
PINS_SUFFIX = "_pins"  # the pins' bucket: the lease bucket's name and this, with no TTL
# Everything a NATS request can fail with while the server is away or slow.
NATS_FAILURES = (nats.errors.Error, asyncio.TimeoutError, OSError)
SETTLE_TIMEOUT = 10.0  # seconds ``settled`` waits (as ``Client.flush`` by default)

# Records claims in PostgreSQL (``fencing.confirm``); returns the zones refused (fenced off).
Confirm = Callable[[list[Claim]], Awaitable[set[str]]]
LostCallback = Callable[[str, int, str], Awaitable[None]]
# Called with a zone this engine still holds and is about to give up because a pin moved it:
# the last chance to store, under its own epoch, what it keeps of that zone in memory.
LeavingCallback = Callable[[str], Awaitable[None]]
# The holder's players and NPCs per zone, written into each lease at renewal (``kadath zones``).
Census = Callable[[], Mapping[str, tuple[int, int]]]
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Lease:
    zone: str
    epoch: int  # the revision that created the key: the fencing epoch
    revision: int  # the key's latest revision, written by this engine
    renewed_at: float  # time.monotonic() when the last successful write was sent


@dataclass(frozen=True, slots=True)
class LeaseValue:
    owner: str
    epoch: int | None
    # What the holder ran in the zone at its last renewal (``kadath zones``), if it says.
    players: int | None = None
    npcs: int | None = None

    def encode(self) -> bytes:
        data: dict[str, object] = {"owner": self.owner, "epoch": self.epoch}
        if self.players is not None:
            data["players"] = self.players
        if self.npcs is not None:
            data["npcs"] = self.npcs
        return json.dumps(data).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> LeaseValue | None:
        try:
            data = json.loads(raw or b"")
            return cls(str(data["owner"]), data.get("epoch"), data.get("players"), data.get("npcs"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def same_lease(self, owner: str, epoch: int) -> bool:
        return (self.owner, self.epoch) == (owner, epoch)


def zone_key(zone: str) -> str:
    return ZONE_PREFIX + zone


async def connect(config: ClusterConfig, name: str, *, quiet: bool = False) -> Client:
    """A NATS connection that reconnects forever (the lease manager copes with the gap);
    ``quiet``: a short-lived one for a command, which does not log its own close."""

    async def disconnected() -> None:
        if not quiet:
            log.warning("nats_disconnected", url=config.nats_url)

    async def reconnected() -> None:
        log.info("nats_reconnected", url=config.nats_url)

    async def error(exc: Exception) -> None:
        if not quiet:
            log.warning("nats_error", error=str(exc))

    try:
        return await asyncio.wait_for(_connect(config, name, disconnected, reconnected, error), 15)
    except (*NATS_FAILURES, nats.errors.NoServersError) as exc:
        raise ClusterUnreachable(f"cannot reach NATS at {config.nats_url}: {exc!r}") from exc


async def _connect(
    config: ClusterConfig,
    name: str,
    disconnected: Callable[[], Awaitable[None]],
    reconnected: Callable[[], Awaitable[None]],
    error: Callable[[Exception], Awaitable[None]],
) -> Client:
    return await nats.connect(
        config.nats_url,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )


async def close(nc: Client) -> None:
    """Close a connection; a server already gone is no error."""
    with contextlib.suppress(*NATS_FAILURES):
        await nc.close()


async def open_bucket(nc: Client, config: ClusterConfig) -> KeyValue:
    """The lease bucket, created with ``max_age`` = the lease length if it does not exist.
    An existing bucket whose TTL is not at least three renewal periods is refused."""
    js = nc.jetstream(timeout=max(2.0, config.renew_seconds))
    try:
        kv = await js.key_value(config.bucket)
    except nats.js.errors.BucketNotFoundError:
        with contextlib.suppress(nats.js.errors.APIError):  # created meanwhile
            await js.create_key_value(
                bucket=config.bucket,
                ttl=config.lease_seconds,
                history=1,
                description="Kadath zone leases (docs/scaling.md)",
            )
        kv = await js.key_value(config.bucket)
    ttl = (await kv.status()).ttl
    if not ttl or ttl < 3 * config.renew_seconds:
        raise ClusterRefused(
            f"the NATS bucket {config.bucket!r} has a TTL of {ttl}s, less than three renewal "
            f"periods ({config.renew_seconds:g}s each): delete it or choose another bucket"
        )
    return kv


async def open_pins(nc: Client, config: ClusterConfig) -> KeyValue:
    """The operators' pins (``kadath zones pin``): key = zone, value = the engine that must
    hold it. A bucket of its own, as the lease bucket's TTL would expire them."""
    js = nc.jetstream(timeout=max(2.0, config.renew_seconds))
    bucket = config.bucket + PINS_SUFFIX
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        with contextlib.suppress(nats.js.errors.APIError):  # created meanwhile
            await js.create_key_value(
                bucket=bucket, history=1, description="Kadath zone pins (docs/scaling.md)"
            )
        return await js.key_value(bucket)


async def read_pins(pins: KeyValue, zones: Iterable[str]) -> dict[str, str]:
    """Each pinned zone's engine (raises a NATS error when the server cannot be reached)."""
    found = {}
    for zone in zones:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            entry = await pins.get(zone)
            if entry.value:
                found[zone] = entry.value.decode()
    return found


async def advance_epochs(nc: Client, config: ClusterConfig, highest_recorded: int) -> bool:
    """If the bucket's stream is behind the highest epoch PostgreSQL has seen (NATS lost its
    store and started over), move its sequence past it, so new epochs are newer than every
    recorded one. True if it had to (the bucket's keys are purged: their holders lose them)."""
    js = nc.jetstream(timeout=max(2.0, config.renew_seconds))
    stream = f"KV_{config.bucket}"
    info = await js.stream_info(stream)
    if info.state.last_seq >= highest_recorded:
        return False
    log.warning("lease_epochs_advanced", stream_last=info.state.last_seq, recorded=highest_recorded)
    await js.purge_stream(stream, seq=highest_recorded + 1)
    return True


async def _no_loss(zone: str, epoch: int, reason: str) -> None:
    return None


async def _nothing_to_store(zone: str) -> None:
    return None


class ZoneLeaseManager:
    """Takes, renews and releases this engine's zone leases. ``run`` does it until stopped;
    ``acquire``, ``renew_all`` and ``release_all`` are its steps (tests drive them directly)."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        owner: str,
        lease_seconds: float,
        renew_seconds: float,
        confirm: Confirm,
        on_lost: LostCallback = _no_loss,
        pins: KeyValue | None = None,
        census: Census | None = None,
        before_release: LeavingCallback = _nothing_to_store,
    ) -> None:
        self._kv = kv
        self._before_release = before_release
        self._census = census
        self.owner = owner
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds
        self._confirm = confirm
        self._on_lost = on_lost
        self._leases: dict[str, Lease] = {}
        self._pins_kv = pins
        self._pins: dict[str, str] = {}

    @property
    def held(self) -> dict[str, Lease]:
        """The zones held now (a copy)."""
        return dict(self._leases)

    async def acquire(self, zone: str) -> Lease | None:
        """Take ``zone`` if nobody holds it: the new lease, or None (held elsewhere, NATS
        unreachable, or PostgreSQL refusing or unreachable: then the key is given back)."""
        if zone in self._leases:
            return self._leases[zone]
        sent = time.monotonic()
        try:
            revision = await self._kv.create(zone_key(zone), LeaseValue(self.owner, None).encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            return None  # held by someone
        except NATS_FAILURES as exc:
            log.debug("zone_acquire_failed", zone=zone, error=repr(exc))
            return None
        try:
            refused = await self._confirm([Claim(zone, self.owner, revision)])
        except Exception as exc:
            log.warning("zone_claim_failed", zone=zone, epoch=revision, error=repr(exc))
            await self._delete(zone, revision)
            return None
        if refused:
            # Only when NATS's sequence went backwards (see ``advance_epochs``).
            log.warning("zone_epoch_behind_recorded", zone=zone, epoch=revision)
            await self._delete(zone, revision)
            return None
        lease = Lease(zone, revision, revision, sent)
        self._leases[zone] = lease
        log.info("zone_acquired", zone=zone, epoch=revision, owner=self.owner)
        return lease

    async def renew(self, zone: str) -> bool:
        """Re-confirm the epoch in PostgreSQL, then compare-and-swap the key. False when the
        zone was dropped (fenced, taken, or unrenewed for a whole lease period)."""
        lease = self._leases.get(zone)
        if lease is None:
            return False
        if await self._fenced_off([lease]):
            await self._drop(lease, "fenced")
            return False
        return await self._renew_in_nats(lease, self._count())

    async def renew_all(self) -> None:
        """``renew`` for every zone held, confirming all their epochs in one transaction."""
        leases = list(self._leases.values())
        fenced = await self._fenced_off(leases)
        counts = self._count()
        for lease in leases:
            if lease.zone in fenced:
                await self._drop(lease, "fenced")
            elif lease.zone in self._leases:
                await self._renew_in_nats(lease, counts)

    def _count(self) -> Mapping[str, tuple[int, int]]:
        if self._census is None:
            return {}
        try:
            return self._census()
        except Exception:
            log.exception("zone_census_failed")
            return {}

    async def _fenced_off(self, leases: list[Lease]) -> set[str]:
        """The zones among ``leases`` whose epoch PostgreSQL refuses; none when it cannot be
        reached (the lease in NATS still decides)."""
        if not leases:
            return set()
        try:
            return await self._confirm([Claim(le.zone, self.owner, le.epoch) for le in leases])
        except Exception as exc:
            log.warning("zone_fence_unconfirmed", zones=len(leases), error=repr(exc))
            return set()

    async def _renew_in_nats(self, lease: Lease, counts: Mapping[str, tuple[int, int]]) -> bool:
        zone = lease.zone
        sent = time.monotonic()
        players, npcs = counts.get(zone, (None, None))
        value = LeaseValue(self.owner, lease.epoch, players, npcs).encode()
        try:
            revision = await self._kv.update(zone_key(zone), value, last=lease.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return await self._reconcile(lease)
        except NATS_FAILURES as exc:
            if time.monotonic() - lease.renewed_at >= self._lease_seconds:
                await self._drop(lease, "expired")
                return False
            log.warning("zone_renewal_failed", zone=zone, error=repr(exc))
            return True
        self._leases[zone] = replace(lease, revision=revision, renewed_at=sent)
        return True

    async def _reconcile(self, lease: Lease) -> bool:
        """A compare-and-swap was refused: keep the lease if the key's last write is our own
        (a renewal that timed out but landed), else drop it."""
        try:
            entry = await self._kv.get(zone_key(lease.zone))
        except nats.js.errors.KeyNotFoundError:
            await self._drop(lease, "expired")
            return False
        except NATS_FAILURES:
            return True  # decided at the next renewal
        found = LeaseValue.decode(entry.value)
        if found is not None and found.same_lease(self.owner, lease.epoch) and entry.revision:
            self._leases[lease.zone] = replace(lease, revision=entry.revision)
            return True
        await self._drop(lease, "taken")
        return False

    async def acquire_free(self, zones: Iterable[str]) -> None:
        for zone in zones:
            if zone not in self._leases:
                await self.acquire(zone)

    async def release(self, zone: str) -> None:
        lease = self._leases.pop(zone, None)
        if lease is not None:
            await self._delete(zone, lease.revision)
            log.info("zone_released", zone=zone, epoch=lease.epoch)

    async def release_all(self) -> None:
        for zone in list(self._leases):
            await self.release(zone)

    async def fence(self, session: AsyncSession, zone: str) -> None:
        """The guard for a write of ``zone``'s state, inside that write's unit of work
        (``uow.session``): records this engine's epoch and locks it until the commit, or raises
        ``Fenced`` (the unit of work then rolls back) after dropping the zone, when a newer
        owner is recorded; ``NotHeld`` when this engine does not hold the zone."""
        lease = self._leases.get(zone)
        if lease is None:
            raise NotHeld(zone)
        try:
            await fencing.fence(session, Claim(zone, self.owner, lease.epoch))
        except Fenced:
            await self._drop(lease, "fenced")
            raise

    async def drop(self, zone: str, reason: str) -> None:
        """Forget ``zone`` without touching NATS (e.g. a zone write was ``Fenced``)."""
        lease = self._leases.get(zone)
        if lease is not None:
            await self._drop(lease, reason)

    async def follow_pins(self, zones: Iterable[str]) -> list[str]:
        """Release held zones pinned to another engine; the zones this engine may take (those
        unpinned or pinned to it). The last pins read stand while NATS cannot be reached."""
        wanted = list(zones)
        if self._pins_kv is not None:
            try:
                self._pins = await read_pins(self._pins_kv, wanted)
            except NATS_FAILURES as exc:
                log.debug("zone_pins_unread", error=repr(exc))
        for zone in list(self._leases):
            if self._pins.get(zone, self.owner) != self.owner:
                log.info("zone_moving", zone=zone, to=self._pins[zone])
                try:  # still held: what it stores now is fenced by this engine's epoch
                    await self._before_release(zone)
                except Exception:  # the move goes on; what was not stored is lost, as in a crash
                    log.exception("zone_store_before_release_failed", zone=zone)
                await self.release(zone)
        return [zone for zone in wanted if self._pins.get(zone, self.owner) == self.owner]

    async def run(self, zones: Callable[[], Iterable[str]], stop: asyncio.Event) -> None:
        """Every renewal period: renew what is held, give up zones pinned elsewhere, then try
        to take the zones ``zones()`` names that nobody holds and are not pinned elsewhere.
        Returns when ``stop`` is set (the caller releases)."""
        while not stop.is_set():
            await self.renew_all()
            await self.acquire_free(await self.follow_pins(zones()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._renew_seconds)

    async def _drop(self, lease: Lease, reason: str) -> None:
        if self._leases.get(lease.zone) is None:
            return
        del self._leases[lease.zone]
        log.warning("zone_dropped", zone=lease.zone, epoch=lease.epoch, reason=reason)
        try:
            await self._on_lost(lease.zone, lease.epoch, reason)
        except Exception:
            log.exception("zone_lost_callback_failed", zone=lease.zone)

    async def _delete(self, zone: str, revision: int) -> None:
        try:
            await self._kv.delete(zone_key(zone), last=revision)
        except NATS_FAILURES as exc:  # it lapses with the bucket's TTL anyway
            log.warning("zone_release_failed", zone=zone, error=repr(exc))


async def settled(nc: Client) -> None:
    """Once the server has every command ``nc`` sent before it (its subscriptions first), so
    a message another connection publishes from then on reaches them.

    ``Client.flush`` does not say so: nats-py writes its PING to the socket at once, ahead of
    commands still queued for the connection's flusher task (a ``SUB`` just made), so its PONG
    may come back before the server has read them. Here a message to a fresh inbox goes
    through that same queue, behind them, and comes back to this very connection (NATS echoes
    a connection's own messages to it): the server had read everything before it. Raises
    ``nats.errors.TimeoutError`` (one of ``NATS_FAILURES``) as a flush would."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, max_msgs=1)
    try:
        await nc.publish(inbox, b"")
        await sub.next_msg(timeout=SETTLE_TIMEOUT)
    finally:
        with contextlib.suppress(*NATS_FAILURES):
            await sub.unsubscribe()
