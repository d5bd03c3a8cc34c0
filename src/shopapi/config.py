"""Typed settings, read from the environment (and `.env`) once at start-up."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from . import signing
from .keystrength import key_is_random
from .setting import (
    at_least,
    between,
    declared,
    fixed,
    networks,
    one_of,
    one_word_of,
    seconds_list,
    setting,
    unset,
)

# OWASP's minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
OWASP_ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
MIN_JWT_KEY_BYTES = 32
# The API's access-token lifetime (ten minutes); tests may shorten it, production not.
ACCESS_TOKEN_TTL = 600
# Words of copied example values; long enough that random keys do not contain them.
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "secret", "example", "placeholder")
DEFAULT_METRICS_NETWORKS = ("127.0.0.0/8", "::1/128")
# 20 hashes a second: half of what one core hashes at OWASP's cost, so a flood that spends
# it all still leaves most of the CPU to everything else, while ordinary sign-in traffic
# never meets it. See docs/development/performance.md, "Bounds on password hashing".
DEFAULT_LOGIN_RATE_LIMIT_GLOBAL = "1200/minute"
DEFAULT_HASH_THREADS, DEFAULT_HASH_QUEUE = 1, 2
ROLES = ("viewer", "editor", "admin")
REGISTRATION_MODES = ("open", "invite", "closed")


class ConfigError(RuntimeError):
    """The settings cannot be used; the message says which one and why."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, each declared once: its variable, default, parser,
    check and description (the table of docs/operations/configuration.md is generated from
    these, see shopapi.setting). Read with `from_env`; `read` skips the secrets (for the server
    launcher, before the app exists)."""

    database_url: str = setting(
        "",
        "SQLAlchemy URL. MariaDB/MySQL: `mysql://user:pass@host:3306/db` takes the faster "
        "driver installed (mysqlclient, else PyMySQL); `mysql+mysqldb://` or "
        "`mysql+pymysql://` names one. utf8mb4 is added when no charset is given. Several "
        "hosts, `mysql://user:pass@db1:3306,db2:3306/db`: connections go to the first that "
        "serves, and move to the next when it fails (see [Galera](galera.md)).",
        shown="SQLite file `instance/shopapi.sqlite3`",
    )
    # Signs page cursors, and access tokens unless jwt_algorithm is EdDSA.
    jwt_secret_key: str = setting(
        "",
        "Signs access tokens (with HS256) and the page cursors; never leaves the service. At "
        "least 32 bytes.",
        shown="generated in development",
        repr=False,
    )
    jwt_algorithm: str = setting(
        signing.HS256,
        "`EdDSA` signs access tokens with Ed25519 private keys instead and publishes the "
        "public ones, so other services can check tokens without a secret (see [Tokens for "
        "other services](tokens-for-other-services.md)).",
        parse=one_word_of(signing.ALGORITHMS),
    )
    jwt_private_key_files: tuple[str, ...] = setting(
        (),
        "PEM files of Ed25519 private keys, comma-separated: the first signs, all verify and "
        "are published. `flask keys generate PATH` writes one. Required in production with "
        "`EdDSA`.",
        shown="generated in development (with `EdDSA`)",
    )
    totp_encryption_keys: tuple[str, ...] = setting(
        (),
        "Fernet key(s) that encrypt TOTP secrets at rest. Several comma-separated keys "
        "rotate: the first encrypts, all decrypt.",
        variable="TOTP_ENCRYPTION_KEY",
        shown="generated in development",
        repr=False,
    )
    redis_url: str | None = setting(
        None,
        "Shared storage for the per-address rate limits when you run several instances.",
        shown="none (in-memory)",
    )
    host: str = setting("127.0.0.1", "Where `python app.py` and `make serve` listen.")
    port: int = setting(5000, "The port `python app.py` and `make serve` listen on.")
    # One process per core; threads to overlap database waits and to keep spare ones while
    # sign-ins wait for their Argon2 hash (see shopapi.security). Measured with `make bench`.
    web_concurrency: int = setting(
        os.cpu_count() or 1,
        "`make serve`'s worker processes (see [Performance](../development/performance.md)).",
        shown="one process per core",
        check=at_least(1),
    )
    threads: int = setting(
        8,
        "The threads of each `make serve` worker that run requests (see "
        "[Performance](../development/performance.md)).",
        check=at_least(1),
    )
    # A client has this long to send its request headers (granian's bound) and then its
    # body (BodyFirst's); waiting for either costs a connection, never a thread.
    header_timeout: int = setting(
        10,
        "`make serve`: seconds a client has to send its request headers, then the connection "
        "is closed. See [Production](deployment.md#production-and-several-instances).",
        check=at_least(1, "seconds"),
    )
    body_timeout: int = setting(
        10,
        "`make serve`: seconds a client has to send its request body once the headers are in, "
        "then 408. See [Production](deployment.md#production-and-several-instances).",
        check=at_least(1, "seconds"),
    )
    # Seconds after which a request counts as stuck and its worker is replaced (0: never).
    request_timeout: int = setting(
        0,
        "Seconds after which a request counts as stuck: its worker process ends and the server "
        "starts a new one (a CSV import gets at least 600). `0` turns it off.",
        shown="`30` with `make serve`, else off",
        check=at_least(0),
    )
    # Connections each pool keeps open: at least the threads of a worker, or requests
    # beyond it open and close a connection each (a TCP and TLS handshake per request).
    db_pool_size: int = setting(
        10,
        "Database connections each worker keeps open (per pool); keep it above `THREADS`, or "
        "requests beyond it open a connection each.",
    )
    app_env: str = setting(
        "development",
        "`production` refuses to start with a missing or weak secret, a missing, unreadable or "
        "non-Ed25519 key file (with `EdDSA`), or Argon2 parameters below OWASP's.",
    )
    instance_path: str = setting(
        "",
        "Folder for the default SQLite file and the generated development secrets and signing key.",
        shown="`./instance`",
    )
    trusted_proxies: int = setting(
        0,
        "How many proxies in front set `X-Forwarded-For`; 0 means client addresses come from "
        "the socket. Per-address limits count an IPv4 client by its address and an IPv6 client "
        "by its /64 prefix.",
    )
    login_rate_limit_per_address: str = setting(
        "100/minute",
        "Per client address, `/auth/login`, `/auth/verify` and `/auth/verify/passkey-options` "
        "together (Flask-Limiter's notation, e.g. `100/minute;1000/hour`). A refusal is 429 "
        "with `Retry-After`, the seconds until the oldest counted request leaves the window; "
        "other answers carry no rate-limit headers.",
    )
    register_rate_limit_per_address: str = setting(
        "20/minute", "Per client address, `/auth/register`."
    )
    # Every client together, in every instance sharing REDIS_URL (per process without it):
    # /auth/login and /auth/register, the requests that cost an Argon2 hash.
    login_rate_limit_global: str = setting(
        DEFAULT_LOGIN_RATE_LIMIT_GLOBAL,
        "Every client together, `/auth/login` and `/auth/register` (the requests that cost an "
        "Argon2 hash), shared by every instance through `REDIS_URL` (each process counts its "
        "own without it, or while Redis is away). Past it, 429 with `Retry-After` for "
        "everyone's logins and registrations; verifies, refreshes and reads are never counted. "
        "See [Bounds on password hashing]"
        "(../development/performance.md#bounds-on-password-hashing).",
    )
    api_key_rate_limit: str = setting(
        "600/minute",
        "Per API key, every request made with it (Flask-Limiter's notation), counted in fixed "
        "windows (`600/minute`: at most 600 in each clock minute, one counter per key), shared "
        "by every instance through `REDIS_URL` (per process without it). Past it, 429 with "
        "`Retry-After`; the key's other budgets, and access tokens, are not touched. See "
        "[API keys](../api/api-keys.md).",
    )
    # Per process: threads hashing passwords, and hashes that may wait for one. A hash
    # beyond both is refused with 503 at once, so request threads stay free for reads.
    hash_threads: int = setting(
        DEFAULT_HASH_THREADS,
        "Per process: threads hashing passwords (at a lower CPU priority). A login, "
        "registration or proof beyond `HASH_THREADS + HASH_QUEUE` gets 503 with "
        "`Retry-After: 1` at once, so request threads never pile up behind hashes and reads "
        "keep theirs. Keep `HASH_THREADS + HASH_QUEUE` well below `THREADS`.",
        check=at_least(1),
    )
    hash_queue: int = setting(
        DEFAULT_HASH_QUEUE,
        "Per process: hashes that may wait for a hashing thread (see `HASH_THREADS`).",
        check=at_least(0),
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "Comma-separated origins allowed to call the API from a browser.",
        shown="none (CORS off)",
    )
    # The role of a new account without an invite.
    new_user_role: str = setting(
        "editor",
        "The role of an account registered without an invite (see [Roles and "
        "administration](../api/roles.md)).",
        production="viewer",
        check=one_of(ROLES),
    )
    registration: str = setting(
        "open",
        "`open` (anyone may register), `invite` (only with an invite code) or `closed` (nobody).",
        check=one_of(REGISTRATION_MODES),
    )
    session_idle_timeout: int = setting(
        86400, "Seconds a session lives without a refresh.", check=at_least(1, "seconds")
    )
    # Seconds an access token lives. Only tests and development shorten it (to watch
    # clients refresh); production keeps the API's ten minutes.
    access_token_ttl: int = setting(
        ACCESS_TOKEN_TTL,
        f"Seconds an access token lives, 1 to {ACCESS_TOKEN_TTL}. Only for tests and "
        f"development (to watch clients refresh); production refuses anything but "
        f"{ACCESS_TOKEN_TTL}.",
        check=between(1, ACCESS_TOKEN_TTL, "seconds"),
    )
    session_max_age: int = setting(
        604800,
        "Seconds a session lives at most after its sign-in, refreshed or not.",
        check=at_least(1, "seconds"),
    )
    # Live sessions an account may have; a sign-in past it ends the oldest.
    session_max_per_account: int = setting(
        20,
        "Live sessions an account may have; a sign-in past it ends the account's oldest "
        "session (reason `session_cap`).",
        check=at_least(1, "sessions"),
    )
    # Seconds within which a unit of work the database aborted (deadlock, lock wait, busy)
    # is retried; a statement waits at most half of it for a lock.
    db_retry_seconds: int = setting(
        5,
        "Seconds within which a request whose transaction the database aborted to resolve a "
        "conflict (deadlock, lock wait timeout, SQLite busy) is run again; past it, 503 with "
        "`Retry-After`. A statement waits for a lock at most half of it "
        "(`innodb_lock_wait_timeout` per MariaDB connection, SQLite's busy timeout).",
        check=at_least(1, "seconds"),
    )
    security_log_days: int = setting(
        90, "Days the security log keeps an event.", check=at_least(1, "days")
    )
    import_max_bytes: int = setting(
        20 * 1024 * 1024,
        "Largest CSV file `POST /api/products/import` takes, in bytes (past it: 413). Other "
        "request bodies stay limited to 1 MiB.",
        check=at_least(1, "bytes"),
    )
    reservation_keep_days: int = setting(
        30,
        "Days a released or expired reservation is kept (readable) before the purge deletes "
        "it; committed ones are kept.",
        check=at_least(1, "days"),
    )
    # Seconds between two purges of expired rows in each serving process (0: never).
    purge_interval: int = setting(
        600,
        "Seconds between two purges of expired rows in each serving process (see "
        "[Housekeeping](housekeeping.md)); `0` turns the background purge off.",
    )
    webhook_retry_schedule: tuple[int, ...] = setting(
        (5, 300, 1800, 7200, 18000, 36000, 36000),
        "Seconds between a webhook delivery's failed attempt and the next, comma-separated "
        "(each with up to a tenth of jitter); after the last the delivery is `failed`. See "
        "[Webhooks](../api/webhooks.md).",
        parse=seconds_list,
        shown="`5,300,1800,7200,18000,36000,36000`",
    )
    webhook_keep_days: int = setting(
        30,
        "Days webhook deliveries (and their events) are kept after they end.",
        check=at_least(1, "days"),
    )
    webhook_allowed_networks: tuple[str, ...] = setting(
        (),
        "Comma-separated CIDRs where webhooks may be sent although they are loopback, "
        "private, link-local or otherwise not public (refused by default).",
        parse=networks,
    )
    webhook_delivery: bool = setting(
        True,
        "Whether each serving process delivers webhooks in a background thread; `false` "
        "leaves it to `flask webhooks run`.",
    )
    # Passkeys (WebAuthn): the relying party is the site's domain; browsers sign for the
    # origins they are on, and a passkey works only where both match (see _check_webauthn).
    webauthn_rp_id: str = setting(
        "localhost",
        "The site's domain, for passkeys: each passkey is made for it and works only there "
        "(see [Passkeys](../api/account.md#passkeys)).",
    )
    webauthn_rp_name: str = setting(
        "ShopAPI", "The site's name as the browser shows it while a passkey is made."
    )
    webauthn_origins: tuple[str, ...] = setting(
        (),
        "Comma-separated addresses (scheme, host, port) where people use the site; each must "
        "be on `WEBAUTHN_RP_ID`'s domain, and with `APP_ENV=production` use https.",
        shown="`http://localhost:PORT`",
    )
    argon2_time_cost: int = setting(
        OWASP_ARGON2["time_cost"],
        "Argon2id passes (OWASP's minimum). Raising it re-hashes each password at its next "
        "sign-in.",
    )
    argon2_memory_cost: int = setting(
        OWASP_ARGON2["memory_cost"],
        "Argon2id memory in KiB (OWASP's minimum). Raising it re-hashes each password at its "
        "next sign-in.",
    )
    argon2_parallelism: int = setting(
        OWASP_ARGON2["parallelism"],
        "Argon2id lanes (OWASP's minimum). Raising it re-hashes each password at its next sign-in.",
    )
    # Prometheus metrics on /metrics, answered only to these networks (others get 404).
    metrics_enabled: bool = setting(
        True,
        "`false` turns the [metrics](metrics.md) off: no `/metrics`, nothing counted per request.",
    )
    metrics_allowed_networks: tuple[str, ...] = setting(
        DEFAULT_METRICS_NETWORKS,
        "Comma-separated CIDRs whose clients may read `/metrics` (set but empty: nobody); "
        "everyone else gets 404. The client address is the socket's, or the one "
        "`TRUSTED_PROXIES` says to take from `X-Forwarded-For`.",
        parse=networks,
        empty_is_value=True,
    )
    prometheus_multiproc_dir: str = setting(
        "",
        "The folder where `make serve`'s workers keep their metrics; emptied when the server "
        "starts. Set it to a folder of its own (a tmpfs is best) when the instance folder is "
        "read-only.",
        shown="`instance/metrics-<PORT>` with `make serve`",
    )
    # Fixed by the service and its API; tests may pass other values to `from_env`.
    jwt_issuer: str = fixed("shopapi")
    totp_issuer: str = fixed("ShopAPI")
    mfa_token_ttl: int = fixed(300)
    db_connect_timeout: int = fixed(3)
    db_query_timeout: int = fixed(10)
    # Loaded from the above by `with_secrets`: what signs and verifies access tokens.
    signing_keys: signing.SigningKeys | None = fixed(None, repr=False, compare=False)

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
        return cls.read(environ, **overrides).with_secrets()

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `environ` and `overrides`, each checked, without loading secrets."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        declarations = dict(declared(cls))
        try:
            values = {name: each.read(env) for name, each in declarations.items()}
            values.update(overrides)
            production = values["app_env"] == "production"
            for name, each in declarations.items():
                if values[name] is unset:
                    values[name] = each.default_for(production)
            if not values["instance_path"]:
                values["instance_path"] = str(Path.cwd() / "instance")
            if not values["database_url"]:
                db_file = Path(values["instance_path"]) / "shopapi.sqlite3"
                values["database_url"] = f"sqlite:///{db_file}"
            if not values["webauthn_origins"]:
                values["webauthn_origins"] = (f"http://localhost:{values['port']}",)
            for name, each in declarations.items():
                each.refuse(values[name])
        except ValueError as error:
            raise ConfigError(str(error)) from None
        settings = cls(**values)
        _check_webauthn(settings)
        return settings

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
