"""Signing keys: thumbprints, key files, `flask keys generate`, and what start-up refuses."""

from __future__ import annotations

import base64
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import ROOT

from shopapi import signing
from shopapi.config import ConfigError, Settings

STRONG_JWT = secrets.token_urlsafe(48)
FERNET = Fernet.generate_key().decode()
PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_kid_is_the_rfc_7638_thumbprint() -> None:
    """The example key of RFC 8037 (appendix A) and the thumbprint the RFC gives for it."""
    key = Ed25519PrivateKey.from_private_bytes(_b64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
    assert signing.public_jwk(key.public_key())["x"] == (
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    )
    assert signing.thumbprint(key.public_key()) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert signing.eddsa([key]).kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_the_first_key_signs_and_every_key_is_published_once() -> None:
    new, old = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = signing.eddsa([new, old, new])
    assert keys.kid == signing.thumbprint(new.public_key())
    assert list(keys.verifying) == [keys.kid, signing.thumbprint(old.public_key())]


def _production(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "JWT_SECRET_KEY": STRONG_JWT,
        "TOTP_ENCRYPTION_KEY": FERNET,
        "JWT_ALGORITHM": "EdDSA",
        **env,
    }


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _wrong_files(tmp: Path) -> dict[str, tuple[str, str]]:
    """Key files production must refuse, and what the refusal must say of each."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    x_key = x25519.X25519PrivateKey.generate()
    ed = Ed25519PrivateKey.generate()
    none = serialization.NoEncryption()
    public = ed.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    encrypted = ed.private_bytes(PEM, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    (tmp / "a-folder").mkdir()
    return {
        "missing": (str(tmp / "nowhere.pem"), "cannot read"),
        "a folder": (str(tmp / "a-folder"), "cannot read"),
        "RSA": (
            _write(tmp / "rsa.pem", rsa_key.private_bytes(PEM, PKCS8, none)),
            "another type (RSA)",
        ),
        "EC": (_write(tmp / "ec.pem", ec_key.private_bytes(PEM, PKCS8, none)), "Ed25519"),
        "X25519": (_write(tmp / "x.pem", x_key.private_bytes(PEM, PKCS8, none)), "(X25519)"),
        "public": (_write(tmp / "public.pem", public), "not a PEM private key"),
        "encrypted": (_write(tmp / "encrypted.pem", encrypted), "encrypted"),
        "text": (_write(tmp / "text.pem", b"not a key\n"), "not a PEM private key"),
    }


WRONG = ["missing", "a folder", "RSA", "EC", "X25519", "public", "encrypted", "text"]


@pytest.mark.parametrize("kind", WRONG)
def test_production_refuses_a_key_file_it_cannot_use(tmp_path: Path, kind: str) -> None:
    path, says = _wrong_files(tmp_path)[kind]
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(_production(tmp_path, JWT_PRIVATE_KEY_FILES=path))
    message = str(refused.value)
    assert "JWT_PRIVATE_KEY_FILES" in message and path in message and says in message


def test_a_wrong_key_among_good_ones_is_refused_too(tmp_path: Path) -> None:
    good = tmp_path / "good.pem"
    signing.write_new_key(good)
    path, _ = _wrong_files(tmp_path)["RSA"]
    with pytest.raises(ConfigError, match="RSA"):
        Settings.from_env(_production(tmp_path, JWT_PRIVATE_KEY_FILES=f"{good},{path}"))


def test_production_with_eddsa_needs_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs JWT_PRIVATE_KEY_FILES.*flask keys generate"):
        Settings.from_env(_production(tmp_path))
    assert not (tmp_path / "instance").exists()  # nothing generated in production


def test_production_with_eddsa_and_good_keys_starts(tmp_path: Path) -> None:
    first, second = tmp_path / "first.pem", tmp_path / "second.pem"
    kids = [signing.write_new_key(first), signing.write_new_key(second)]
    settings = Settings.from_env(_production(tmp_path, JWT_PRIVATE_KEY_FILES=f"{first}, {second}"))
    assert settings.keys.algorithm == "EdDSA"
    assert settings.keys.kid == kids[0]
    assert list(settings.keys.verifying) == kids


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM must be HS256 or EdDSA"),
        ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM must be HS256 or EdDSA"),
        ({"JWT_ALGORITHM": "HS256", "JWT_PRIVATE_KEY_FILES": "k.pem"}, "JWT_ALGORITHM=EdDSA"),
    ],
)
def test_an_algorithm_other_than_the_two_or_keys_it_would_not_use_are_refused(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})


def test_hs256_stays_the_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert settings.keys.algorithm == "HS256"
    assert settings.keys.kid is None
    assert settings.keys.jwks == b'{"keys":[]}'
    assert not (tmp_path / signing.DEV_KEY_FILE).exists()


def test_development_generates_a_key_once_under_the_instance_folder(tmp_path: Path) -> None:
    env = {"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path / "instance")}
    first = Settings.from_env({**env, "JWT_ALGORITHM": "EdDSA"})
    second = Settings.from_env({**env, "JWT_ALGORITHM": "eddsa"})
    path = tmp_path / "instance" / signing.DEV_KEY_FILE
    assert first.jwt_private_key_files == second.jwt_private_key_files == (str(path),)
    assert first.keys.kid == second.keys.kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    elsewhere = Settings.from_env({**env, "INSTANCE_PATH": str(tmp_path / "other")})
    assert elsewhere.keys.kid != first.keys.kid


def _flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run(
        [str(flask), "--app", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flask_keys_generate_writes_a_key_production_then_starts_with(tmp_path: Path) -> None:
    """The first key of a production deployment: the command works before the app can."""
    env = _production(tmp_path)
    path = tmp_path / "keys" / "signing.pem"
    made = _flask("keys", "generate", str(path), env=env)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = signing.load_private_key(str(path))
    assert made.stdout == signing.thumbprint(key.public_key()) + "\n"  # the kid, alone
    settings = Settings.from_env({**env, "JWT_PRIVATE_KEY_FILES": str(path)})
    assert settings.keys.kid == made.stdout.strip()


def test_flask_keys_generate_never_overwrites_a_file(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    signing.write_new_key(path)
    before = path.read_bytes()
    again = _flask("keys", "generate", str(path), env=_production(tmp_path))
    assert again.returncode != 0
    assert "exists" in again.stderr and again.stdout == ""
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["signing.pem"]  # no scratch file left


def test_a_production_server_with_a_wrong_key_refuses_to_start(tmp_path: Path) -> None:
    path, _ = _wrong_files(tmp_path)["RSA"]
    env = {**os.environ, **_production(tmp_path, JWT_PRIVATE_KEY_FILES=path), "PORT": "1"}
    started = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert f"JWT_PRIVATE_KEY_FILES: the key file {path} holds a key of another" in started.stderr
