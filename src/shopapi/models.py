"""Tables of the accounts and sign-in side. Products live in `shopapi.products.models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false
from sqlalchemy.types import VARBINARY

# SQLite only auto-increments INTEGER PRIMARY KEY; MariaDB gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Up to the 1023 bytes of a WebAuthn credential id: a BLOB on SQLite, a VARBINARY (that a
# unique key can cover whole) on MariaDB.
CredentialId = LargeBinary().with_variant(VARBINARY(1023), "mysql", "mariadb")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username", name="uq_users_username"),
        # The lower-cased username is unique: case-insensitive on every backend, whatever
        # the column collation.
        UniqueConstraint("username_normalized", name="uq_users_username_normalized"),
        # A deleted account's id is never handed to a new one, on SQLite either.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(50))
    username_normalized: Mapped[str] = mapped_column(String(50))
    password: Mapped[str] = mapped_column(String(256))
    twofa_secret: Mapped[str] = mapped_column(String(256))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the authenticator's enrolment was issued (at registration, or by an admin's
    # reset); null once the account has verified with any second factor. While set (and
    # for 24 hours at most), /auth/login shows the enrolment again.
    enrollment_issued_at: Mapped[datetime | None] = mapped_column(DateTime)
    # viewer, editor or admin (see caller.roles); read on every request with the account.
    role: Mapped[str] = mapped_column(String(10), server_default="editor")
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # person (signs in with a password and a second factor) or service (an integration
    # that belongs to no person: it has API keys only and never signs in).
    kind: Mapped[str] = mapped_column(String(10), server_default="person")


class MfaChallenge(Base):
    """The password step, proven: an `mfa_token` (stored only as its SHA-256)."""

    __tablename__ = "mfa_challenges"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_mfa_challenges_token_hash"),
        Index("ix_mfa_challenges_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The challenge of the latest passkey request options (base64url), until an assertion
    # takes it: a passkey signs in only on the mfa_token its challenge was issued for.
    passkey_challenge: Mapped[str | None] = mapped_column(String(64))


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class AttemptCounter(Base):
    """Failed attempts per account in a 15-minute window, shared by every process."""

    __tablename__ = "attempt_counters"
    __table_args__ = (Index("ix_attempt_counters_window", "window_start"),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Invite(Base):
    """A single-use invite to register with a role; the code is stored only as its SHA-256."""

    __tablename__ = "invites"
    __table_args__ = (
        UniqueConstraint("code_hash", name="uq_invites_code_hash"),
        Index("ix_invites_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class ServiceFlag(Base):
    """A named fact about the whole service, set once (first writer wins)."""

    __tablename__ = "service_flags"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    set_at: Mapped[datetime] = mapped_column(DateTime)


class SignInSession(Base):
    """A session: started by a sign-in, kept alive by refreshes, ended by deleting its row
    (logout, sign-out everywhere, reuse of a refresh token, ...). Its id is the `sid` claim
    of its access tokens; a token whose session row is gone or expired is refused."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_expires_at", "expires_at"),
        # Ids are never reused on SQLite either (they appear in paths and tokens).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime] = mapped_column(DateTime)
    # The earlier of the idle timeout after the last use and the maximum age.
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    max_expires_at: Mapped[datetime] = mapped_column(DateTime)
    user_agent: Mapped[str | None] = mapped_column(String(255))


class RefreshToken(Base):
    """A session's refresh tokens, as SHA-256 hashes: the live one, and the used-up ones
    (kept while the session lives, so presenting one again ends the session)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        Index("ix_refresh_tokens_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class DeviceToken(Base):
    """A device an account signed in from (OWASP's device cookie), as a SHA-256 hash: a
    login from it is counted against the device alone, not the account's lockout."""

    __tablename__ = "device_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_device_tokens_token_hash"),
        Index("ix_device_tokens_user_id", "user_id"),
        Index("ix_device_tokens_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class SecurityEvent(Base):
    """What happened to an account's security, for its owner's and the admins' eyes.

    Written in the transaction of the change it records (or, for a failed attempt, with
    the counter that counts it); never a password, code, token or secret."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_user_id_id", "user_id", "id"),
        Index("ix_security_events_at", "at"),
        Index("ix_security_events_type_id", "type", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # The admin who caused it, for events caused by an admin.
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    # The event's own fields (method, reason, from, to) as a JSON object.
    details: Mapped[str] = mapped_column(Text)


class TotpEnrollment(Base):
    """A new authenticator waiting for its first code: the secret (encrypted) and the
    enrollment token (as its SHA-256) that confirms it."""

    __tablename__ = "totp_enrollments"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_totp_enrollments_token_hash"),
        Index("ix_totp_enrollments_user_id", "user_id"),
        Index("ix_totp_enrollments_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class Passkey(Base):
    """A WebAuthn credential that signs in as a second factor: its id (up to the 1023 bytes
    WebAuthn allows), its COSE public key, and the authenticator's last signature count."""

    __tablename__ = "passkeys"
    __table_args__ = (
        UniqueConstraint("credential_id", name="uq_passkeys_credential_id"),
        Index("ix_passkeys_user_id", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[bytes] = mapped_column(CredentialId)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    # Comma-separated hints the browser gave (usb, nfc, internal, ...), handed back to it.
    transports: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class PasskeyRegistration(Base):
    """The challenge of passkey creation options: single-use, for one account, 5 minutes."""

    __tablename__ = "passkey_registrations"
    __table_args__ = (
        UniqueConstraint("challenge", name="uq_passkey_registrations_challenge"),
        Index("ix_passkey_registrations_user_id", "user_id"),
        Index("ix_passkey_registrations_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    challenge: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ApiKey(Base):
    """A key for scripts and services: its secret is stored only as its SHA-256 (the secret
    is 256 random bits, so a fast hash is enough), found by that hash in one indexed lookup.
    A revoked key keeps its row (history entries name it) but is never accepted again."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        Index("ix_api_keys_user_id", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64))
    # The key's first 12 characters, shown in lists so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    # Space-separated scope names (see caller.scopes).
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Written at most once a minute per key, not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
