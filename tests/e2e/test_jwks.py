"""EdDSA over real HTTP: two instances with the same key files act as one, and another
service checks their tokens with the documented example, holding no secret.

Instance A is `python app.py`, instance B the production server (two worker processes), on
one MariaDB database and one Redis, both with the same JWT_PRIVATE_KEY_FILES.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import (
    REDIS_URL,
    ROOT,
    HttpAuth,
    LiveServer,
    http_session,
    loopback_address,
    scratch_mariadb,
    server_env,
    settings_for,
    start_production,
    start_server,
    stop_production,
    stop_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.redis]
JWKS = "/.well-known/jwks.json"


class Pair:
    def __init__(self, a: LiveServer, b: LiveServer, secret: str) -> None:
        self.a, self.b, self.secret = a, b, secret


def http_auth(base: str) -> HttpAuth:
    """A client of its own loopback address (so the per-address limits do not add up)."""
    return HttpAuth(base, loopback_address())


@pytest.fixture(scope="module")
def pair(
    secrets_env: dict[str, str],
    key_files: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("eddsa-pair")
    with scratch_mariadb() as url:
        env = server_env(
            settings_for(url, tmp / "instance", secrets_env),
            secrets_env,
            REDIS_URL=REDIS_URL,
            JWT_ALGORITHM="EdDSA",
            JWT_PRIVATE_KEY_FILES=",".join(key_files),
        )
        a = start_server(env, tmp / "a.log")
        try:
            b = start_production(env, tmp / "b.log")
        except BaseException:
            stop_server(a)
            raise
        try:
            yield Pair(a, b, secrets_env["JWT_SECRET_KEY"])
        finally:
            stop_server(a)
            stop_production(b)
            for server in (a, b):
                assert "Traceback" not in server.log(), server.log()[-3000:]


def test_the_two_instances_publish_the_same_keys_and_take_each_others_tokens(
    pair: Pair,
) -> None:
    http = http_session()
    answers = [http.get(f"{base}{JWKS}", timeout=30) for base in [pair.a.url, pair.b.url] * 3]
    assert {(r.status_code, r.text, r.headers["ETag"]) for r in answers} == {
        (200, answers[0].text, answers[0].headers["ETag"])
    }
    kids = [k["kid"] for k in answers[0].json()["keys"]]
    assert len(kids) == 2
    for signer, checker in ((pair.a, pair.b), (pair.b, pair.a)):
        account, token = http_auth(signer.url).sign_in()
        assert jwt.get_unverified_header(token)["kid"] == kids[0]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(4):  # B's two workers each decode it for themselves
            me = http.get(f"{checker.url}/auth/me", headers=headers, timeout=30)
            assert me.status_code == 200 and me.json()["id"] == account.id


def _documented_example() -> str:
    guide = (ROOT / "docs" / "operations" / "tokens-for-other-services.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", guide, re.S) if "PyJWKClient" in b]
    assert len(blocks) == 1
    return blocks[0]


def _other_service(tmp_path: Path, jwks_url: str, token: str) -> subprocess.CompletedProcess[str]:
    """The example of docs/operations/tokens-for-other-services.md, run as its own program that
    knows only the key set's URL."""
    program = tmp_path / "other_service.py"
    program.write_text(_documented_example())
    return subprocess.run(
        [sys.executable, str(program), token],
        env={"SHOP_JWKS_URL": jwks_url},  # no JWT_SECRET_KEY, no key file: nothing shared
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_another_service_checks_tokens_with_the_documented_example(
    pair: Pair, tmp_path: Path
) -> None:
    account, token = http_auth(pair.a.url).sign_in()
    checked = _other_service(tmp_path, f"{pair.b.url}{JWKS}", token)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == f"{account.id}\n"


def _forgeries(token: str, secret: str) -> dict[str, str]:
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    head, body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "altered signature": f"{head}.{body}.{flipped}",
        "HS256 with the service's secret": jwt.encode(claims, secret, algorithm="HS256"),
        "another key, the published kid": jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
        ),
    }


@pytest.mark.parametrize(
    "forgery",
    ["altered signature", "HS256 with the service's secret", "another key, the published kid"],
)
def test_the_readme_example_refuses_what_the_service_did_not_sign(
    pair: Pair, tmp_path: Path, forgery: str
) -> None:
    _, token = http_auth(pair.a.url).sign_in()
    forged = _forgeries(token, pair.secret)[forgery]
    checked = _other_service(tmp_path, f"{pair.a.url}{JWKS}", forged)
    assert checked.returncode != 0 and checked.stdout == ""
    assert "jwt.exceptions" in checked.stderr  # refused by PyJWT, not by an accident
    r = http_session().get(
        f"{pair.b.url}/auth/me", headers={"Authorization": f"Bearer {forged}"}, timeout=30
    )
    assert r.status_code == 401  # and the service agrees
