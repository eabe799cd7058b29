"""build grants: which accounts may build in which zones

Revision ID: 0004_build_grants
Revises: 0003_channels
Create Date: 2026-11-30 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_build_grants"
down_revision: str | None = "0003_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "build_grants",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("granted_by", sa.Uuid(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_build_grants_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["accounts.id"],
            name=op.f("fk_build_grants_granted_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("account_id", "zone_id", name=op.f("pk_build_grants")),
    )


def downgrade() -> None:
    op.drop_table("build_grants")
