"""The keys that sign access tokens: an HS256 secret, or Ed25519 keys published as a JWKS.

With EdDSA the private keys come from PEM files; the first signs, all of them verify and
are published at /.well-known/jwks.json, so another service checks tokens with the public
keys alone and a key is rotated by putting a new one in front (the old one keeps
verifying the tokens it signed until it is dropped). Each key's `kid` is its RFC 7638
thumbprint: the same key has the same `kid` on every instance, without coordination.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HS256 = "HS256"
EDDSA = "EdDSA"
ALGORITHMS = (HS256, EDDSA)
# How long a verifier may keep the JWKS document: a new key is published (added last, not
# yet signing) at least this long before it is moved in front to sign.
JWKS_MAX_AGE = 300
DEV_KEY_FILE = "jwt-signing-key.pem"
GENERATE_HINT = "generate one with: flask keys generate PATH"


class KeyFileError(ValueError):
    """A key file cannot be used; the message says which file and why."""


@dataclass(frozen=True, eq=False)  # hashed by identity: a cache key, one object per app
class SigningKeys:
    """What signs new tokens and what verifies presented ones, by `kid`."""

    algorithm: str
    signing_key: Any  # the HS256 secret, or an Ed25519PrivateKey
    kid: str | None  # the signing key's kid (EdDSA); HS256 tokens carry none
    verifying: Mapping[str | None, Any]  # by the kid of the tokens each key verifies
    jwks: bytes  # the published document, as served
    etag: str


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The key's required JWK members (RFC 8037), without `kid`, `use` or `alg`."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    members = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(members.encode()).digest())


def hs256(secret: str) -> SigningKeys:
    return SigningKeys(HS256, secret, None, MappingProxyType({None: secret}), *_document([]))


def eddsa(private_keys: Sequence[Ed25519PrivateKey]) -> SigningKeys:
    """The first key signs; every key verifies and is published (each once)."""
    if not private_keys:
        raise KeyFileError(f"EdDSA needs at least one Ed25519 private key; {GENERATE_HINT}")
    public = {thumbprint(k.public_key()): k.public_key() for k in private_keys}
    jwks = [{**public_jwk(k), "kid": kid, "use": "sig", "alg": EDDSA} for kid, k in public.items()]
    verifying: dict[str | None, Any] = {kid: key for kid, key in public.items()}
    first = thumbprint(private_keys[0].public_key())
    return SigningKeys(EDDSA, private_keys[0], first, MappingProxyType(verifying), *_document(jwks))


def _document(keys: list[dict[str, str]]) -> tuple[bytes, str]:
    body = json.dumps({"keys": keys}, separators=(",", ":")).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


def load_private_key(path: str) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file; `KeyFileError` naming the file otherwise."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read the key file {path}: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying the key is encrypted
        raise KeyFileError(
            f"the key file {path} is encrypted; give an unencrypted PEM key (readable by the "
            "service's user only)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(
            f"the key file {path} is not a PEM private key; {GENERATE_HINT}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(
            f"the key file {path} holds a key of another type "
            f"({type(key).__name__.removesuffix('PrivateKey')}); JWT_ALGORITHM=EdDSA needs an "
            f"Ed25519 key ({GENERATE_HINT})"
        )
    return key


def load(paths: Sequence[str]) -> SigningKeys:
    return eddsa([load_private_key(path) for path in paths])


def write_new_key(path: Path) -> str:
    """A new Ed25519 private key in a PEM file at `path`, readable by its owner only;
    its kid. Never replaces an existing file (`FileExistsError`)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written whole under another name, then linked into place: a concurrent start never
    # reads a half-written key, and of two racing writers exactly one key wins.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.link(scratch, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
    return thumbprint(key.public_key())


def development_key(instance: Path) -> str:
    """The path of the key generated once for development under the instance folder."""
    path = instance / DEV_KEY_FILE
    with contextlib.suppress(FileExistsError):
        write_new_key(path)
    return str(path)
