"""zone leases: each zone's owning engine and fencing epoch in a cluster

Revision ID: 0005_zone_leases
Revises: 0004_build_grants
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_zone_leases"
down_revision: str | None = "0004_build_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zone_leases",
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("zone", name=op.f("pk_zone_leases")),
    )


def downgrade() -> None:
    op.drop_table("zone_leases")
