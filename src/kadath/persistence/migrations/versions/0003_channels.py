"""channels: memberships, recent messages, ignores

Revision ID: 0003_channels
Revises: 0002_roles_moderation
Create Date: 2026-11-30 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_channels"
down_revision: str | None = "0002_roles_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_memberships",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_channel_memberships_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("player_id", "channel", name=op.f("pk_channel_memberships")),
    )
    op.create_table(
        "channel_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=True),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_messages")),
    )
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.create_index("ix_channel_messages_channel_id", ["channel", "id"], unique=False)

    op.create_table(
        "ignores",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("ignored_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ignored_id"],
            ["players.id"],
            name=op.f("fk_ignores_ignored_id_players"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_ignores_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("player_id", "ignored_id", name=op.f("pk_ignores")),
    )
    with op.batch_alter_table("ignores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ignores_ignored_id"), ["ignored_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ignores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ignores_ignored_id"))

    op.drop_table("ignores")
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_messages_channel_id")

    op.drop_table("channel_messages")
    op.drop_table("channel_memberships")
