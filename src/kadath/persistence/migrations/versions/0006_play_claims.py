"""play claims: which load of a character into play may save it (a cluster)

Revision ID: 0006_play_claims
Revises: 0005_zone_leases
Create Date: 2026-11-30 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_play_claims"
down_revision: str | None = "0005_zone_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("players") as batch:
        batch.add_column(
            sa.Column("play_claim", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("players") as batch:
        batch.drop_column("play_claim")
