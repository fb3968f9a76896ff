"""The tables of the store (SQLAlchemy 2 ORM). Migrations in ``migrations/`` follow these classes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    siret: Mapped[str | None] = mapped_column(String(14))
    insee: Mapped[str | None] = mapped_column(String(5), index=True)
    created_at: Mapped[datetime]


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        UniqueConstraint("connector", "external_id"),
        Index("ix_dossiers_org_received", "organisation_id", "received_at"),
        Index("ix_dossiers_org_status", "organisation_id", "status"),
        Index("ix_dossiers_received", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    connector: Mapped[str] = mapped_column(String(63))
    external_id: Mapped[str] = mapped_column(String(200))
    procedure: Mapped[str] = mapped_column(String(100), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(300), default="")
    search_key: Mapped[str] = mapped_column(String(600), default="")  # domain.dossier.search_key
    has_returns: Mapped[bool] = mapped_column(Boolean, default=True)  # statuses go back to the channel
    data: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    documents: Mapped[list[Document]] = relationship(back_populates="dossier", order_by="Document.id")


class DossierVersion(Base):
    """Each complete receipt of a dossier; the dossier row holds the latest one's data."""

    __tablename__ = "dossier_versions"
    __table_args__ = (
        UniqueConstraint("dossier_id", "number"),
        Index("ix_dossier_versions_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]]
    origin: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime]


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_dossier", "dossier_id", "version"),
        Index("ix_documents_sha", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3), default="in")  # "in" received, "out" sent back
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(100), default="")
    media_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    status_change_id: Mapped[int | None] = mapped_column(ForeignKey("status_changes.id"))  # "out": sent with

    dossier: Mapped[Dossier] = relationship(back_populates="documents")


class StatusChange(Base):
    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_dossier", "dossier_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    code: Mapped[int] = mapped_column(Integer)
    previous_code: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    is_automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    transmitted_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(200))


class OutboxItem(Base):
    """A return waiting for, or done with, delivery. Its state is the transmitted indicator."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "connector", "next_try_at"),
        Index("ix_outbox_dossier", "dossier_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    status_change_id: Mapped[int] = mapped_column(ForeignKey("status_changes.id"), unique=True)
    connector: Mapped[str] = mapped_column(String(63))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending sending sent dead cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class JournalEntry(Base):
    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_dossier", "dossier_id", "id"), Index("ix_journal_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    dossier_id: Mapped[str | None] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    connector: Mapped[str | None] = mapped_column(String(63), index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]


class ConnectorRun(Base):
    __tablename__ = "connector_runs"
    __table_args__ = (Index("ix_connector_runs_connector", "connector", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(63))
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule, manual, cli
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(12), default="running")  # running ok failed interrupted
    counts: Mapped[dict[str, Any]]
    errors: Mapped[list[Any]]
    error: Mapped[str | None] = mapped_column(Text)
    log_file: Mapped[str | None] = mapped_column(String(500))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    organisations: Mapped[list[Any]]  # organisation ids; ["*"] for all
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class User(Base):
    """A person who signs in to the dashboard (machines use API tokens)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(10))
    organisations: Mapped[list[Any]]  # organisation ids; ["*"] for all
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Cursor(Base):
    """A connector's resumable position at its peer."""

    __tablename__ = "cursors"

    connector: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
