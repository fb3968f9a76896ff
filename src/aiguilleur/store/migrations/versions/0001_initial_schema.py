"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import aiguilleur.store.tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column(
            "organisations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "connector_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("started_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_file", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_runs")),
    )
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.create_index("ix_connector_runs_connector", ["connector", "id"], unique=False)

    op.create_table(
        "cursors",
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_cursors")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=True),
        sa.Column("insee", sa.String(length=5), nullable=True),
        sa.Column("created_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisations_insee"), ["insee"], unique=False)

    op.create_table(
        "dossiers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("procedure", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", sa.String(length=63), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("search_key", sa.String(length=600), nullable=False),
        sa.Column("has_returns", sa.Boolean(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_dossiers_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("connector", "external_id", name=op.f("uq_dossiers_connector_external_id")),
    )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dossiers_channel"), ["channel"], unique=False)
        batch_op.create_index("ix_dossiers_org_received", ["organisation_id", "received_at"], unique=False)
        batch_op.create_index("ix_dossiers_org_status", ["organisation_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_dossiers_procedure"), ["procedure"], unique=False)
        batch_op.create_index("ix_dossiers_received", ["received_at"], unique=False)

    op.create_table(
        "dossier_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_versions_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_versions")),
        sa.UniqueConstraint("dossier_id", "number", name=op.f("uq_dossier_versions_dossier_id_number")),
    )
    with op.batch_alter_table("dossier_versions", schema=None) as batch_op:
        batch_op.create_index("ix_dossier_versions_message", ["message_id"], unique=False)

    op.create_table(
        "journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=True),
        sa.Column("connector", sa.String(length=63), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_journal_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal")),
    )
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.create_index("ix_journal_at", ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_journal_connector"), ["connector"], unique=False)
        batch_op.create_index("ix_journal_dossier", ["dossier_id", "id"], unique=False)

    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("previous_code", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("is_automatic", sa.Boolean(), nullable=False),
        sa.Column("transmitted_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_status_changes_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.create_index("ix_status_changes_dossier", ["dossier_id", "id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_change_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_documents_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["status_change_id"],
            ["status_changes.id"],
            name=op.f("fk_documents_status_change_id_status_changes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_dossier", ["dossier_id", "version"], unique=False)
        batch_op.create_index("ix_documents_sha", ["sha256"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("status_change_id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", aiguilleur.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_outbox_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["status_change_id"],
            ["status_changes.id"],
            name=op.f("fk_outbox_status_change_id_status_changes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("status_change_id", name=op.f("uq_outbox_status_change_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_dossier", ["dossier_id", "id"], unique=False)
        batch_op.create_index("ix_outbox_due", ["state", "connector", "next_try_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index("ix_outbox_dossier")

    op.drop_table("outbox")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_sha")
        batch_op.drop_index("ix_documents_dossier")

    op.drop_table("documents")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_status_changes_dossier")

    op.drop_table("status_changes")
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_dossier")
        batch_op.drop_index(batch_op.f("ix_journal_connector"))
        batch_op.drop_index("ix_journal_at")

    op.drop_table("journal")
    with op.batch_alter_table("dossier_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_versions_message")

    op.drop_table("dossier_versions")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index("ix_dossiers_received")
        batch_op.drop_index(batch_op.f("ix_dossiers_procedure"))
        batch_op.drop_index("ix_dossiers_org_status")
        batch_op.drop_index("ix_dossiers_org_received")
        batch_op.drop_index(batch_op.f("ix_dossiers_channel"))

    op.drop_table("dossiers")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_insee"))

    op.drop_table("organisations")
    op.drop_table("cursors")
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_runs_connector")

    op.drop_table("connector_runs")
    op.drop_table("api_tokens")
