"""SQLAlchemy table models. Portable between SQLite and PostgreSQL; timestamps are UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class PortableJson(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL (what ``JSON().with_variant(JSONB(), "postgresql")``
    says), without importing SQLAlchemy's PostgreSQL dialect package until a PostgreSQL
    database asks for it: a server on SQLite never loads it."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


JsonType = PortableJson()


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite hands back naive ones, so they are made aware again."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Kadath stores UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


ROLES = ("player", "builder", "moderator", "admin")


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="role_known"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(sa.String(32))
    username_key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), server_default="player")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InviteRow(Base):
    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="SET NULL")
    )
    used_at: Mapped[datetime | None]


class ProfessionRow(Base):
    __tablename__ = "professions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    description: Mapped[str] = mapped_column(sa.Text)
    requirements: Mapped[dict[str, int]] = mapped_column(JsonType, default=dict)


class PlayerRow(Base):
    __tablename__ = "players"
    __table_args__ = (
        sa.CheckConstraint("health >= 0 AND health <= max_health", name="health_range"),
        sa.CheckConstraint("lucidity >= 0 AND lucidity <= 100", name="lucidity_range"),
        sa.CheckConstraint("experience >= 0", name="experience_positive"),
        sa.CheckConstraint("level >= 1", name="level_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(32))
    name_key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    room_id: Mapped[str] = mapped_column(sa.String(100), index=True)
    respawn_room_id: Mapped[str] = mapped_column(sa.String(100))
    strength: Mapped[int] = mapped_column(sa.Integer)
    dexterity: Mapped[int] = mapped_column(sa.Integer)
    constitution: Mapped[int] = mapped_column(sa.Integer)
    intelligence: Mapped[int] = mapped_column(sa.Integer)
    wisdom: Mapped[int] = mapped_column(sa.Integer)
    charisma: Mapped[int] = mapped_column(sa.Integer)
    health: Mapped[int] = mapped_column(sa.Integer)
    max_health: Mapped[int] = mapped_column(sa.Integer)
    lucidity: Mapped[int] = mapped_column(sa.Integer, default=100)
    experience: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    level: Mapped[int] = mapped_column(sa.Integer, default=1)
    profession_id: Mapped[int] = mapped_column(sa.ForeignKey("professions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # ``serve --cluster``: raised by each load of the character into play; a save of the
    # room and ``extra`` by an older load (a stale copy on another process) is refused.
    play_claim: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # The account's role, loaded with every character (no column of its own).
    role: Mapped[str] = column_property(
        sa.select(AccountRow.role).where(AccountRow.id == account_id).scalar_subquery()
    )


class ContainerRow(Base):
    __tablename__ = "containers"
    __table_args__ = (sa.CheckConstraint("capacity >= 0", name="capacity_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    capacity: Mapped[int] = mapped_column(sa.Integer)
    room_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    owner_player_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("players.id", ondelete="SET NULL"), index=True
    )
    # The wearable item this container lives in; deleted with it by ItemRepository.delete
    # (no foreign key: item_instances already points here, and a cycle cannot be built on SQLite).
    item_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, unique=True)
    world_key: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    locked: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    key_prototype_id: Mapped[str | None] = mapped_column(sa.String(64))
    decays_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)


class ItemRow(Base):
    __tablename__ = "item_instances"
    __table_args__ = (
        sa.CheckConstraint(
            "(CASE WHEN owner_player_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN container_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN room_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_location",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    prototype_id: Mapped[str] = mapped_column(sa.String(64))
    owner_player_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("players.id", ondelete="CASCADE"), index=True
    )
    container_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("containers.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    worn_slot: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExplorationRow(Base):
    __tablename__ = "explored_rooms"

    player_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    first_visited_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorldSeedRow(Base):
    """Marks a piece of the world files already placed in the database, so it is placed once."""

    __tablename__ = "world_seeds"

    key: Mapped[str] = mapped_column(sa.String(150), primary_key=True)
    seeded_at: Mapped[datetime] = mapped_column(default=utcnow)


class SanctionRow(Base):
    """A mute, freeze or ban of an account; in force until ``ends_at`` unless lifted."""

    __tablename__ = "sanctions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(300))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None]
    lifted_at: Mapped[datetime | None]


class BuildGrantRow(Base):
    """A builder's right to change one zone (see docs/building.md)."""

    __tablename__ = "build_grants"

    account_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    zone_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    granted_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="SET NULL")
    )
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportRow(Base):
    """A player's report of another, waiting in the moderators' queue until closed."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    reporter_account_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="SET NULL")
    )
    reporter: Mapped[str] = mapped_column(sa.String(32))
    target_account_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="SET NULL")
    )
    target: Mapped[str] = mapped_column(sa.String(32))
    text: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(sa.String(32))
    closed_at: Mapped[datetime | None] = mapped_column(index=True)


class AuditRow(Base):
    """One moderation action or report; account ids without foreign keys, so the log
    outlives the accounts it names."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(32), index=True)
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    action: Mapped[str] = mapped_column(sa.String(16), index=True)
    target: Mapped[str] = mapped_column(sa.String(32), index=True)
    target_account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    detail: Mapped[str] = mapped_column(sa.String(500), default="")


class ChannelMembershipRow(Base):
    """A character's setting on a channel; no row means the channel's default."""

    __tablename__ = "channel_memberships"

    player_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    joined: Mapped[bool] = mapped_column(sa.Boolean)
    muted: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class ChannelMessageRow(Base):
    """The recent messages of each channel (the last 100 are kept)."""

    __tablename__ = "channel_messages"
    __table_args__ = (sa.Index("ix_channel_messages_channel_id", "channel", "id"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    channel: Mapped[str] = mapped_column(sa.String(32))
    # No foreign key: a message stays in the history after its speaker is deleted.
    sender_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    sender: Mapped[str] = mapped_column(sa.String(32))
    text: Mapped[str] = mapped_column(sa.Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class IgnoreRow(Base):
    """One character ignoring another: the ignorer hears nothing the other says."""

    __tablename__ = "ignores"

    player_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True
    )
    ignored_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ZoneLeaseRow(Base):
    """The fencing epoch of each zone's current owner in a cluster (docs/scaling.md): the
    revision of the lease its engine won in NATS. A write of zone-owned state first raises or
    confirms this row (``kadath.cluster.fencing``), so an engine whose lease was taken over by
    a newer epoch cannot commit."""

    __tablename__ = "zone_leases"

    zone: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(128))
    epoch: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
