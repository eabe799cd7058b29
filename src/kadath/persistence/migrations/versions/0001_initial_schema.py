"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 17:54:08.978779
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PROFESSIONS = [
    {
        "id": 1,
        "name": "Drifter",
        "requirements": {},
        "description": "A rail-riding vagrant who has slept in every doorway from Boston to Innsmouth.",
    },
    {
        "id": 2,
        "name": "Antiquarian",
        "requirements": {"intelligence": 12},
        "description": "A collector of old books and older secrets, welcome in every dusty shop.",
    },
    {
        "id": 3,
        "name": "Dock Worker",
        "requirements": {"strength": 12, "constitution": 11},
        "description": "Broad shoulders from the Kingsport wharves; hard to knock down.",
    },
    {
        "id": 4,
        "name": "Private Investigator",
        "requirements": {"dexterity": 11, "wisdom": 11},
        "description": "A licence, a revolver and a habit of asking the wrong questions.",
    },
    {
        "id": 5,
        "name": "Physician",
        "requirements": {"intelligence": 13, "wisdom": 11},
        "description": "A doctor of medicine who has seen what the sanitarium keeps locked away.",
    },
    {
        "id": 6,
        "name": "Journalist",
        "requirements": {"charisma": 11, "intelligence": 10},
        "description": "A reporter for the Arkham Advertiser with an ear for rumour.",
    },
    {
        "id": 7,
        "name": "Occult Scholar",
        "requirements": {"intelligence": 14, "wisdom": 12},
        "description": "A Miskatonic academic who has read a page too many.",
    },
    {
        "id": 8,
        "name": "Police Officer",
        "requirements": {"strength": 11, "constitution": 11},
        "description": "An Arkham patrolman, steady in a scuffle, uneasy after dark.",
    },
]


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("username_key", name=op.f("uq_accounts_username_key")),
    )
    op.create_table(
        "professions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "requirements",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_professions")),
        sa.UniqueConstraint("name", name=op.f("uq_professions_name")),
    )
    op.create_table(
        "world_seeds",
        sa.Column("key", sa.String(length=150), nullable=False),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_world_seeds")),
    )
    op.create_table(
        "invites",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_by", sa.Uuid(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["accounts.id"],
            name=op.f("fk_invites_created_by_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["accounts.id"],
            name=op.f("fk_invites_used_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_invites")),
    )
    op.create_table(
        "players",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("name_key", sa.String(length=32), nullable=False),
        sa.Column("room_id", sa.String(length=100), nullable=False),
        sa.Column("respawn_room_id", sa.String(length=100), nullable=False),
        sa.Column("strength", sa.Integer(), nullable=False),
        sa.Column("dexterity", sa.Integer(), nullable=False),
        sa.Column("constitution", sa.Integer(), nullable=False),
        sa.Column("intelligence", sa.Integer(), nullable=False),
        sa.Column("wisdom", sa.Integer(), nullable=False),
        sa.Column("charisma", sa.Integer(), nullable=False),
        sa.Column("health", sa.Integer(), nullable=False),
        sa.Column("max_health", sa.Integer(), nullable=False),
        sa.Column("lucidity", sa.Integer(), nullable=False),
        sa.Column("experience", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("profession_id", sa.Integer(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint("experience >= 0", name=op.f("ck_players_experience_positive")),
        sa.CheckConstraint(
            "health >= 0 AND health <= max_health", name=op.f("ck_players_health_range")
        ),
        sa.CheckConstraint("level >= 1", name=op.f("ck_players_level_positive")),
        sa.CheckConstraint(
            "lucidity >= 0 AND lucidity <= 100", name=op.f("ck_players_lucidity_range")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_players_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profession_id"], ["professions.id"], name=op.f("fk_players_profession_id_professions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_players")),
        sa.UniqueConstraint("name_key", name=op.f("uq_players_name_key")),
    )
    with op.batch_alter_table("players", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_players_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_players_room_id"), ["room_id"], unique=False)

    op.create_table(
        "containers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=100), nullable=True),
        sa.Column("owner_player_id", sa.Uuid(), nullable=True),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("world_key", sa.String(length=100), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("key_prototype_id", sa.String(length=64), nullable=True),
        sa.Column("decays_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_containers_capacity_positive")),
        sa.ForeignKeyConstraint(
            ["owner_player_id"],
            ["players.id"],
            name=op.f("fk_containers_owner_player_id_players"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
        sa.UniqueConstraint("item_id", name=op.f("uq_containers_item_id")),
        sa.UniqueConstraint("world_key", name=op.f("uq_containers_world_key")),
    )
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_containers_decays_at"), ["decays_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_containers_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_containers_owner_player_id"), ["owner_player_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_containers_room_id"), ["room_id"], unique=False)

    op.create_table(
        "explored_rooms",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.String(length=100), nullable=False),
        sa.Column("first_visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_explored_rooms_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("player_id", "room_id", name=op.f("pk_explored_rooms")),
    )
    op.create_table(
        "item_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prototype_id", sa.String(length=64), nullable=False),
        sa.Column("owner_player_id", sa.Uuid(), nullable=True),
        sa.Column("container_id", sa.Uuid(), nullable=True),
        sa.Column("room_id", sa.String(length=100), nullable=True),
        sa.Column("worn_slot", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN owner_player_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN container_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN room_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_item_instances_one_location"),
        ),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_item_instances_container_id_containers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_player_id"],
            ["players.id"],
            name=op.f("fk_item_instances_owner_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_instances")),
    )
    with op.batch_alter_table("item_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_item_instances_container_id"), ["container_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_item_instances_owner_player_id"), ["owner_player_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_item_instances_room_id"), ["room_id"], unique=False)

    op.bulk_insert(
        sa.table(
            "professions",
            sa.column("id", sa.Integer),
            sa.column("name", sa.String),
            sa.column("description", sa.Text),
            sa.column("requirements", sa.JSON),
        ),
        PROFESSIONS,
    )


def downgrade() -> None:
    with op.batch_alter_table("item_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_instances_room_id"))
        batch_op.drop_index(batch_op.f("ix_item_instances_owner_player_id"))
        batch_op.drop_index(batch_op.f("ix_item_instances_container_id"))

    op.drop_table("item_instances")
    op.drop_table("explored_rooms")
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_containers_room_id"))
        batch_op.drop_index(batch_op.f("ix_containers_owner_player_id"))
        batch_op.drop_index(batch_op.f("ix_containers_kind"))
        batch_op.drop_index(batch_op.f("ix_containers_decays_at"))

    op.drop_table("containers")
    with op.batch_alter_table("players", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_players_room_id"))
        batch_op.drop_index(batch_op.f("ix_players_account_id"))

    op.drop_table("players")
    op.drop_table("invites")
    op.drop_table("world_seeds")
    op.drop_table("professions")
    op.drop_table("accounts")
