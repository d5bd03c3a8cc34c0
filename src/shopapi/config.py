"""Typed settings, read from the environment (and `.env`) once at start-up."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from . import signing
from .keystrength import key_is_random

# OWASP's minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
OWASP_ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
MIN_JWT_KEY_BYTES = 32
# The API's access-token lifetime (ten minutes); tests may shorten it, production not.
ACCESS_TOKEN_TTL = 600
# Words of copied example values; long enough that random keys do not contain them.
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "secret", "example", "placeholder")
DEFAULT_METRICS_NETWORKS = ("127.0.0.0/8", "::1/128")


class ConfigError(RuntimeError):
    """The settings cannot be used; the message says which one and why."""


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    instance_path: str = ""
    database_url: str = ""
    redis_url: str | None = None
    # Signs page cursors, and access tokens unless jwt_algorithm is EdDSA.
    jwt_secret_key: str = field(default="", repr=False)
    jwt_algorithm: str = signing.HS256
    jwt_private_key_files: tuple[str, ...] = ()
    # Loaded from the above by `with_secrets`: what signs and verifies access tokens.
    signing_keys: signing.SigningKeys | None = field(default=None, repr=False, compare=False)
    totp_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    host: str = "127.0.0.1"
    port: int = 5000
    trusted_proxies: int = 0
    login_rate_limit_per_address: str = "100/minute"
    register_rate_limit_per_address: str = "20/minute"
    cors_origins: tuple[str, ...] = ()
    argon2_time_cost: int = OWASP_ARGON2["time_cost"]
    argon2_memory_cost: int = OWASP_ARGON2["memory_cost"]
    argon2_parallelism: int = OWASP_ARGON2["parallelism"]
    jwt_issuer: str = "shopapi"
    totp_issuer: str = "ShopAPI"
    # Seconds an access token lives. Only tests and development shorten it (to watch
    # clients refresh); production keeps the API's ten minutes.
    access_token_ttl: int = ACCESS_TOKEN_TTL
    mfa_token_ttl: int = 300
    db_connect_timeout: int = 3
    db_query_timeout: int = 10
    # The role of a new account without an invite; empty: editor, or viewer in production.
    new_user_role: str = ""
    registration: str = "open"
    session_idle_timeout: int = 86400
    session_max_age: int = 604800
    security_log_days: int = 90
    # Connections each pool keeps open: at least the threads of a worker, or requests
    # beyond it open and close a connection each (a TCP and TLS handshake per request).
    db_pool_size: int = 10
    # Seconds after which a request counts as stuck and its worker is replaced (0: never).
    request_timeout: int = 0
    # Seconds between two purges of expired rows in each serving process (0: never).
    purge_interval: int = 600
    # Passkeys (WebAuthn): the relying party is the site's domain; browsers sign for the
    # origins they are on, and a passkey works only where both match (see _check_webauthn).
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "ShopAPI"
    # Empty: http://localhost:PORT, the address of `make run`.
    webauthn_origins: tuple[str, ...] = ()
    # Prometheus metrics on /metrics, answered only to these networks (others get 404).
    metrics_enabled: bool = True
    metrics_allowed_networks: tuple[str, ...] = DEFAULT_METRICS_NETWORKS

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def keys(self) -> signing.SigningKeys:
        """The access tokens' keys (settings built by `from_env` always have them)."""
        if self.signing_keys is None:
            raise ConfigError("these settings have no signing keys: build them with from_env")
        return self.signing_keys

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `environ` (default: the process environment), then `overrides`."""
        env = dict(os.environ if environ is None else environ)
        instance = env.get("INSTANCE_PATH") or str(Path.cwd() / "instance")
        values: dict[str, Any] = {
            "app_env": env.get("APP_ENV", "development"),
            "instance_path": instance,
            "database_url": env.get("DATABASE_URL") or "",
            "redis_url": env.get("REDIS_URL") or None,
            "jwt_secret_key": env.get("JWT_SECRET_KEY", ""),
            "jwt_algorithm": _algorithm(env.get("JWT_ALGORITHM", "") or signing.HS256),
            "jwt_private_key_files": _split(env.get("JWT_PRIVATE_KEY_FILES", "")),
            "totp_encryption_keys": _split(env.get("TOTP_ENCRYPTION_KEY", "")),
            "host": env.get("HOST", "127.0.0.1"),
            "port": _int(env, "PORT", 5000),
            "trusted_proxies": _int(env, "TRUSTED_PROXIES", 0),
            "login_rate_limit_per_address": env.get("LOGIN_RATE_LIMIT_PER_ADDRESS", "100/minute"),
            "register_rate_limit_per_address": env.get(
                "REGISTER_RATE_LIMIT_PER_ADDRESS", "20/minute"
            ),
            "cors_origins": _split(env.get("CORS_ORIGINS", "")),
            "argon2_time_cost": _int(env, "ARGON2_TIME_COST", OWASP_ARGON2["time_cost"]),
            "argon2_memory_cost": _int(env, "ARGON2_MEMORY_COST", OWASP_ARGON2["memory_cost"]),
            "argon2_parallelism": _int(env, "ARGON2_PARALLELISM", OWASP_ARGON2["parallelism"]),
            "new_user_role": env.get("NEW_USER_ROLE", ""),
            "registration": env.get("REGISTRATION", "open"),
            "session_idle_timeout": _int(env, "SESSION_IDLE_TIMEOUT", 86400),
            "session_max_age": _int(env, "SESSION_MAX_AGE", 604800),
            "security_log_days": _int(env, "SECURITY_LOG_DAYS", 90),
            "request_timeout": _int(env, "REQUEST_TIMEOUT", 0),
            "db_pool_size": _int(env, "DB_POOL_SIZE", 10),
            "purge_interval": _int(env, "PURGE_INTERVAL", 600),
            "webauthn_rp_id": env.get("WEBAUTHN_RP_ID") or "localhost",
            "webauthn_rp_name": env.get("WEBAUTHN_RP_NAME") or "ShopAPI",
            "webauthn_origins": _split(env.get("WEBAUTHN_ORIGINS", "")),
            **_metrics_settings(env),
            "access_token_ttl": _int(env, "ACCESS_TOKEN_TTL", ACCESS_TOKEN_TTL),
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update(overrides)
        settings = cls(**values)
        if not settings.database_url:
            db_file = Path(settings.instance_path) / "shopapi.sqlite3"
            settings = replace(settings, database_url=f"sqlite:///{db_file}")
        if not settings.webauthn_origins:
            settings = replace(settings, webauthn_origins=(f"http://localhost:{settings.port}",))
        if not settings.new_user_role:
            default = "viewer" if settings.production else "editor"
            settings = replace(settings, new_user_role=default)
        _check_choices(settings)
        return settings.with_secrets()

    def with_secrets(self) -> Settings:
        """Check the secrets and load the signing keys; in development, fill missing ones
        from the instance folder."""
        if self.production:
            _check_production(self)
            return replace(self, signing_keys=_signing_keys(self))
        jwt_key, totp_keys = self.jwt_secret_key, self.totp_encryption_keys
        key_files = self.jwt_private_key_files
        if not jwt_key or not totp_keys:
            stored = _dev_secrets(Path(self.instance_path))
            jwt_key = jwt_key or stored["JWT_SECRET_KEY"]
            totp_keys = totp_keys or (stored["TOTP_ENCRYPTION_KEY"],)
        if self.jwt_algorithm == signing.EDDSA and not key_files:
            key_files = (signing.development_key(Path(self.instance_path)),)
        settings = replace(
            self,
            jwt_secret_key=jwt_key,
            totp_encryption_keys=totp_keys,
            jwt_private_key_files=key_files,
        )
        _check_keys(settings)
        return replace(settings, signing_keys=_signing_keys(settings))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _algorithm(value: str) -> str:
    for name in signing.ALGORITHMS:
        if value.strip().lower() == name.lower():
            return name
    raise ConfigError(f"JWT_ALGORITHM must be HS256 or EdDSA, got {value!r}")


def _signing_keys(settings: Settings) -> signing.SigningKeys:
    files = settings.jwt_private_key_files
    if settings.jwt_algorithm == signing.HS256:
        if files:
            raise ConfigError(
                "JWT_PRIVATE_KEY_FILES is set but tokens are signed HS256 with JWT_SECRET_KEY: "
                "set JWT_ALGORITHM=EdDSA to sign with the key files, or remove them"
            )
        return signing.hs256(settings.jwt_secret_key)
    if not files:
        raise ConfigError(
            "APP_ENV=production with JWT_ALGORITHM=EdDSA needs JWT_PRIVATE_KEY_FILES (PEM "
            "Ed25519 private keys, comma-separated, the signing key first); "
            + signing.GENERATE_HINT
        )
    try:
        return signing.load(files)
    except signing.KeyFileError as error:
        raise ConfigError(f"JWT_PRIVATE_KEY_FILES: {error}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _metrics_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """METRICS_ENABLED (default true) and METRICS_ALLOWED_NETWORKS (comma-separated CIDRs)."""
    enabled = env.get("METRICS_ENABLED", "true").strip().lower()
    if enabled not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
        raise ConfigError(f"METRICS_ENABLED must be true or false, got {enabled!r}")
    networks = _split(env.get("METRICS_ALLOWED_NETWORKS", ",".join(DEFAULT_METRICS_NETWORKS)))
    for network in networks:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            raise ConfigError(
                f"METRICS_ALLOWED_NETWORKS must be CIDRs such as 10.0.0.0/8, got {network!r}"
            ) from None
    return {
        "metrics_enabled": enabled in {"true", "1", "yes", "on"},
        "metrics_allowed_networks": networks,
    }


ROLES = ("viewer", "editor", "admin")
REGISTRATION_MODES = ("open", "invite", "closed")


def _check_choices(settings: Settings) -> None:
    for name, value in (
        ("SESSION_IDLE_TIMEOUT", settings.session_idle_timeout),
        ("SESSION_MAX_AGE", settings.session_max_age),
        ("SECURITY_LOG_DAYS", settings.security_log_days),
    ):
        if value < 1:
            raise ConfigError(f"{name} must be a positive number of seconds, got {value}")
    if not 1 <= settings.access_token_ttl <= ACCESS_TOKEN_TTL:
        raise ConfigError(
            f"ACCESS_TOKEN_TTL must be 1 to {ACCESS_TOKEN_TTL} seconds, "
            f"got {settings.access_token_ttl}"
        )
    if settings.new_user_role not in ROLES:
        raise ConfigError(
            f"NEW_USER_ROLE must be one of {', '.join(ROLES)}, got {settings.new_user_role!r}"
        )
    if settings.registration not in REGISTRATION_MODES:
        raise ConfigError(
            f"REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}, "
            f"got {settings.registration!r}"
        )
    _check_webauthn(settings)


def _check_webauthn(settings: Settings) -> None:
    """Each origin must be on the relying party's domain (a browser refuses the rest), and
    outside development on https, as browsers demand of every address but localhost."""
    rp_id = settings.webauthn_rp_id
    for origin in settings.webauthn_origins:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or parts.path or not host:
            raise ConfigError(
                f"WEBAUTHN_ORIGINS: {origin!r} is not an origin like https://shop.example"
            )
        if host != rp_id and not host.endswith("." + rp_id):
            raise ConfigError(
                f"WEBAUTHN_ORIGINS: {origin!r} is not on WEBAUTHN_RP_ID {rp_id!r} "
                "(the origin's host must be that domain or a subdomain of it)"
            )
        if settings.production and parts.scheme != "https" and host != "localhost":
            raise ConfigError(f"WEBAUTHN_ORIGINS: {origin!r} must use https in production")


_NEW_JWT_KEY = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
_NEW_FERNET_KEY = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


def _check_keys(settings: Settings) -> None:
    if len(settings.jwt_secret_key.encode()) < MIN_JWT_KEY_BYTES:
        raise ConfigError(
            f"JWT_SECRET_KEY must be at least {MIN_JWT_KEY_BYTES} bytes; {_NEW_JWT_KEY}"
        )
    for key in settings.totp_encryption_keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "TOTP_ENCRYPTION_KEY must be Fernet keys (32 random bytes, URL-safe base64), "
                f"comma-separated; {_NEW_FERNET_KEY}"
            ) from None
    if settings.argon2_parallelism < 1:
        # argon2-cffi would refuse every hash: no sign-up or sign-in could succeed.
        raise ConfigError(
            f"ARGON2_PARALLELISM must be at least 1, got {settings.argon2_parallelism}"
        )


def _check_randomness(settings: Settings) -> None:
    """Production keys must be random: a repeated pattern, a few symbols, a keyboard walk
    or words are refused."""
    if not key_is_random(settings.jwt_secret_key):
        raise ConfigError(f"JWT_SECRET_KEY is a pattern, not random bytes; {_NEW_JWT_KEY}")
    for key in settings.totp_encryption_keys:
        if not key_is_random(base64.urlsafe_b64decode(key)):
            raise ConfigError(
                f"TOTP_ENCRYPTION_KEY is a pattern, not 32 random bytes; {_NEW_FERNET_KEY}"
            )


def _check_production(settings: Settings) -> None:
    if not settings.jwt_secret_key:
        raise ConfigError("APP_ENV=production needs JWT_SECRET_KEY (at least 32 random bytes)")
    if not settings.totp_encryption_keys:
        raise ConfigError("APP_ENV=production needs TOTP_ENCRYPTION_KEY (a Fernet key)")
    _check_keys(settings)
    lowered = settings.jwt_secret_key.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        raise ConfigError("JWT_SECRET_KEY looks like a placeholder: use random bytes")
    _check_randomness(settings)
    weak = (
        settings.argon2_time_cost < OWASP_ARGON2["time_cost"]
        or settings.argon2_memory_cost < OWASP_ARGON2["memory_cost"]
        or settings.argon2_parallelism < OWASP_ARGON2["parallelism"]
    )
    if weak:
        raise ConfigError("APP_ENV=production refuses Argon2 parameters below OWASP's minimum")
    if settings.access_token_ttl != ACCESS_TOKEN_TTL:
        raise ConfigError(
            f"APP_ENV=production keeps access tokens {ACCESS_TOKEN_TTL} seconds: "
            "leave ACCESS_TOKEN_TTL unset"
        )


def _dev_secrets(instance: Path) -> dict[str, str]:
    """Secrets generated once for development and kept under the instance folder."""
    path = instance / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    instance.mkdir(parents=True, exist_ok=True)
    stored = {
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    # Create with owner-only permissions; O_EXCL makes a concurrent first start safe.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing: dict[str, str] = json.loads(path.read_text())
        return existing
    with os.fdopen(fd, "w") as fh:
        json.dump(stored, fh)
    return stored
