"""Settings: production refuses missing or weak secrets; development keeps generated ones."""

from __future__ import annotations

import base64
import json
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from shopapi import create_app, security
from shopapi.config import ConfigError, Settings

STRONG_JWT = secrets.token_urlsafe(48)
FERNET = Fernet.generate_key().decode()


def _production(tmp_path: Path, **env: str) -> dict[str, str]:
    base = {"APP_ENV": "production", "INSTANCE_PATH": str(tmp_path / "instance")}
    return {**base, "JWT_SECRET_KEY": STRONG_JWT, "TOTP_ENCRYPTION_KEY": FERNET, **env}


def test_production_with_good_secrets_starts(tmp_path: Path) -> None:
    settings = Settings.from_env(_production(tmp_path))
    assert settings.production
    assert settings.jwt_secret_key == STRONG_JWT
    assert settings.totp_encryption_keys == (FERNET,)
    assert not (tmp_path / "instance" / "secrets.json").exists()


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"JWT_SECRET_KEY": ""}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": "too-short-secret"}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": "a" * 64}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": "changeme" * 6}, "JWT_SECRET_KEY"),
        ({"TOTP_ENCRYPTION_KEY": ""}, "TOTP_ENCRYPTION_KEY"),
        ({"TOTP_ENCRYPTION_KEY": "not-a-fernet-key"}, "TOTP_ENCRYPTION_KEY"),
        ({"TOTP_ENCRYPTION_KEY": f"{FERNET},short"}, "TOTP_ENCRYPTION_KEY"),
        ({"ARGON2_MEMORY_COST": "256"}, "Argon2"),
        ({"JWT_SECRET_KEY": "change-me-please-change-me-please-change-me"}, "placeholder"),
        ({"JWT_SECRET_KEY": "my-super-Secret-jwt-key-for-the-shop-api-2026"}, "placeholder"),
        # Long enough, but a short pattern repeated, or a run: a guesser's first tries.
        ({"JWT_SECRET_KEY": "abcdefgh" * 4}, "JWT_SECRET_KEY is a pattern"),
        ({"JWT_SECRET_KEY": "password1234" * 3}, "JWT_SECRET_KEY is a pattern"),
        ({"JWT_SECRET_KEY": "abcdefghijklmnopqrstuvwxyz0123456789"}, "JWT_SECRET_KEY is a pattern"),
        ({"JWT_SECRET_KEY": "Zq3" + "".join(chr(65 + (i * 7) % 26) for i in range(45))}, "pattern"),
        # Keys of many different characters that a guesser still tries early: keyboard
        # walks and words.
        (
            {"JWT_SECRET_KEY": "qwertyuiopasdfghjklzxcvbnm1234567890!@#$"},
            "JWT_SECRET_KEY is a pattern",
        ),
        (
            {"JWT_SECRET_KEY": "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/"},
            "JWT_SECRET_KEY is a pattern",
        ),
        (
            {"JWT_SECRET_KEY": "correcthorsebatterystaplecorrecthorse"},
            "JWT_SECRET_KEY is a pattern",
        ),
        (
            {
                "TOTP_ENCRYPTION_KEY": base64.urlsafe_b64encode(
                    b"qwertyuiopasdfghjklzxcvbnm123456"
                ).decode()
            },
            "TOTP_ENCRYPTION_KEY is a pattern",
        ),
        (
            {"TOTP_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(32)).decode()},
            "TOTP_ENCRYPTION_KEY",
        ),
        (
            {"TOTP_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"0123456789abcdef" * 2).decode()},
            "TOTP_ENCRYPTION_KEY",
        ),
        ({"ARGON2_PARALLELISM": "0"}, "ARGON2_PARALLELISM"),
        ({"ARGON2_TIME_COST": "1"}, "Argon2"),
        ({"ACCESS_TOKEN_TTL": "5"}, "ACCESS_TOKEN_TTL"),
    ],
)
def test_production_refuses_missing_or_weak_settings(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(_production(tmp_path, **env))
    assert not (tmp_path / "instance" / "secrets.json").exists()


def test_create_app_in_production_stops_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _production(tmp_path, JWT_SECRET_KEY="").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app()


def test_development_generates_secrets_once(tmp_path: Path) -> None:
    env = {"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path / "instance")}
    first = Settings.from_env(env)
    second = Settings.from_env(env)
    assert len(first.jwt_secret_key.encode()) >= 32
    assert first.jwt_secret_key == second.jwt_secret_key
    assert first.totp_encryption_keys == second.totp_encryption_keys
    Fernet(first.totp_encryption_keys[0])
    stored = tmp_path / "instance" / "secrets.json"
    assert json.loads(stored.read_text())["JWT_SECRET_KEY"] == first.jwt_secret_key
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    # another instance folder gets its own
    other = Settings.from_env({**env, "INSTANCE_PATH": str(tmp_path / "elsewhere")})
    assert other.jwt_secret_key != first.jwt_secret_key


def test_development_keeps_secrets_that_are_given(tmp_path: Path) -> None:
    env = {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "JWT_SECRET_KEY": STRONG_JWT,
        "TOTP_ENCRYPTION_KEY": FERNET,
    }
    settings = Settings.from_env(env)
    assert settings.jwt_secret_key == STRONG_JWT
    assert settings.totp_encryption_keys == (FERNET,)


def test_development_still_refuses_a_short_jwt_key(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "JWT_SECRET_KEY": "short"}
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env(env)


def test_totp_key_rotation(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    base: dict[str, Any] = {"INSTANCE_PATH": str(tmp_path), "JWT_SECRET_KEY": STRONG_JWT}
    before = Settings.from_env({**base, "TOTP_ENCRYPTION_KEY": old})
    sealed = security.encrypt(before.totp_encryption_keys, "JBSWY3DPEHPK3PXP")
    after = Settings.from_env({**base, "TOTP_ENCRYPTION_KEY": f"{new}, {old}"})
    assert after.totp_encryption_keys == (new, old)
    assert security.decrypt(after.totp_encryption_keys, sealed) == "JBSWY3DPEHPK3PXP"
    resealed = security.encrypt(after.totp_encryption_keys, "JBSWY3DPEHPK3PXP")
    assert Fernet(new).decrypt(resealed.encode()) == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError):
        security.decrypt((old,), resealed)


@pytest.mark.parametrize(
    ("env", "message"),
    [({"PORT": "eighty"}, "PORT"), ({"TRUSTED_PROXIES": "1.5"}, "TRUSTED_PROXIES")],
)
def test_malformed_numbers_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})


def test_unknown_overrides_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jwt_secret"):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path)}, jwt_secret="x")


def test_default_database_lives_in_the_instance_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'shopapi.sqlite3'}"


def test_default_password_hashing_meets_owasp(tmp_path: Path) -> None:
    from shopapi.auth.service import hasher

    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    stored = hasher(settings).hash("violet-harbour-lantern")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_random_keys_of_every_usual_form_pass_the_randomness_check(tmp_path: Path) -> None:
    """The check refuses patterns, never the keys the docs tell people to generate."""
    for _ in range(200):
        env = _production(
            tmp_path,
            JWT_SECRET_KEY=secrets.choice(
                [
                    secrets.token_urlsafe(48),
                    secrets.token_urlsafe(24),
                    secrets.token_hex(32),
                    secrets.token_urlsafe(96),  # longer than zxcvbn is given
                ]
            ),
            TOTP_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        )
        assert Settings.from_env(env).production


def test_argon2_parallelism_of_zero_is_refused_in_development_too(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path / "instance"), "ARGON2_PARALLELISM": "0"}
    with pytest.raises(ConfigError, match="ARGON2_PARALLELISM must be at least 1"):
        Settings.from_env(env)


def test_passkeys_default_to_the_address_of_make_run(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "PORT": "5001"})
    assert settings.webauthn_rp_id == "localhost"
    assert settings.webauthn_origins == ("http://localhost:5001",)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEBAUTHN_RP_ID": "shop.example", "WEBAUTHN_ORIGINS": "https://evil.example"}, "not on"),
        ({"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": "https://badexample.com"}, "not on"),
        ({"WEBAUTHN_ORIGINS": "localhost:5000"}, "not an origin"),
        ({"WEBAUTHN_ORIGINS": "http://localhost:5000/console"}, "not an origin"),
    ],
)
def test_passkey_origins_off_the_relying_partys_domain_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"WEBAUTHN_ORIGINS.*{message}"):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})


def test_production_passkeys_need_https_on_the_sites_domain(tmp_path: Path) -> None:
    site = {"WEBAUTHN_RP_ID": "example.com"}
    with pytest.raises(ConfigError, match="https"):
        Settings.from_env(_production(tmp_path, **site, WEBAUTHN_ORIGINS="http://shop.example.com"))
    settings = Settings.from_env(
        _production(
            tmp_path, **site, WEBAUTHN_ORIGINS="https://shop.example.com,https://example.com"
        )
    )
    assert settings.webauthn_origins == ("https://shop.example.com", "https://example.com")


@pytest.mark.parametrize("ttl", ["0", "601", "-5"])
def test_access_token_lifetime_outside_one_to_600_seconds_is_refused(
    tmp_path: Path, ttl: str
) -> None:
    env = {"INSTANCE_PATH": str(tmp_path / "instance"), "ACCESS_TOKEN_TTL": ttl}
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_TTL"):
        Settings.from_env(env)


def test_a_shorter_access_token_lifetime_is_allowed_outside_production(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {"INSTANCE_PATH": str(tmp_path / "instance"), "ACCESS_TOKEN_TTL": "5"}
    )
    assert settings.access_token_ttl == 5


def test_an_empty_variable_counts_as_unset_except_for_the_metrics_networks(
    tmp_path: Path,
) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "PORT": "", "REGISTRATION": "", "HOST": ""}
    settings = Settings.from_env({**env, "METRICS_ALLOWED_NETWORKS": ""})
    assert (settings.port, settings.registration, settings.host) == (5000, "open", "127.0.0.1")
    assert settings.metrics_allowed_networks == ()  # set, but empty: no network may read


def test_new_accounts_are_viewers_by_default_in_production(tmp_path: Path) -> None:
    assert Settings.from_env(_production(tmp_path)).new_user_role == "viewer"
    chosen = Settings.from_env(_production(tmp_path, NEW_USER_ROLE="editor"))
    assert chosen.new_user_role == "editor"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"THREADS": "0"}, "THREADS must be at least 1, got 0"),
        ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY must be a whole number, got 'two'"),
        ({"HEADER_TIMEOUT": "0"}, "HEADER_TIMEOUT must be a positive number of seconds"),
        ({"SECURITY_LOG_DAYS": "0"}, "SECURITY_LOG_DAYS must be a positive number of days"),
        ({"JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM must be HS256 or EdDSA, got 'RS256'"),
    ],
)
def test_bad_values_are_refused_with_the_variables_name(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})
    assert not (tmp_path / "secrets.json").exists()  # refused before any secret was made


def _secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value)
    return str(path)


def test_production_secrets_can_come_from_files_instead_of_the_environment(
    tmp_path: Path,
) -> None:
    database = "mysql+pymysql://shop:pw@db:3306/shop"
    env = {
        "APP_ENV": "production",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        # As `echo` and editors write them: the final newline is no part of the value.
        "JWT_SECRET_KEY_FILE": _secret_file(tmp_path, "jwt", STRONG_JWT + "\n"),
        "TOTP_ENCRYPTION_KEY_FILE": _secret_file(tmp_path, "totp", FERNET + "\r\n"),
        "DATABASE_URL_FILE": _secret_file(tmp_path, "db", database),
    }
    settings = Settings.from_env(env)
    assert settings.jwt_secret_key == STRONG_JWT
    assert settings.totp_encryption_keys == (FERNET,)
    assert settings.database_url.startswith("mysql+pymysql://shop:pw@db:3306/shop")


def test_a_value_from_a_file_is_checked_like_one_from_the_environment(tmp_path: Path) -> None:
    env = _production(tmp_path, JWT_SECRET_KEY="")
    env["JWT_SECRET_KEY_FILE"] = _secret_file(tmp_path, "jwt", "changeme" * 6)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY looks like a placeholder"):
        Settings.from_env(env)
    env = {"INSTANCE_PATH": str(tmp_path), "THREADS_FILE": _secret_file(tmp_path, "t", "0\n")}
    with pytest.raises(ConfigError, match="THREADS must be at least 1, got 0"):
        Settings.from_env(env)


def test_an_empty_file_counts_as_unset(tmp_path: Path) -> None:
    env = _production(tmp_path, JWT_SECRET_KEY="")
    env["JWT_SECRET_KEY_FILE"] = _secret_file(tmp_path, "jwt", "\n")
    with pytest.raises(ConfigError, match="APP_ENV=production needs JWT_SECRET_KEY"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"JWT_SECRET_KEY_FILE": "{tmp}/missing"},
            "JWT_SECRET_KEY_FILE: cannot read .*/missing: No such file or directory",
        ),
        ({"JWT_SECRET_KEY_FILE": "{tmp}"}, "JWT_SECRET_KEY_FILE: cannot read"),
        (
            {"JWT_SECRET_KEY_FILE": "{tmp}/jwt", "JWT_SECRET_KEY": STRONG_JWT},
            "JWT_SECRET_KEY and JWT_SECRET_KEY_FILE are both set: set one of them",
        ),
        ({"TOTP_ENCRYPTION_KEY_FILE": "{tmp}/latin1"}, "TOTP_ENCRYPTION_KEY_FILE: .* not UTF-8"),
    ],
)
def test_a_secret_file_that_cannot_be_used_stops_the_start_with_its_name(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    _secret_file(tmp_path, "jwt", STRONG_JWT)
    (tmp_path / "latin1").write_bytes(b"caf\xe9")
    env = {name: value.replace("{tmp}", str(tmp_path)) for name, value in env.items()}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path / "instance"), **env})
    assert not (tmp_path / "instance" / "secrets.json").exists()
