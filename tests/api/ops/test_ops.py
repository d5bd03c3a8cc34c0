"""Operations: liveness, readiness, the OpenAPI document and the offline docs page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from support import assert_problem

AUTH_PATHS = {"/auth/register", "/auth/login", "/auth/verify", "/auth/logout", "/auth/me"}


def test_healthz(client: Any) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}


def test_readyz_when_the_database_answers(client: Any) -> None:
    assert client.get("/readyz").status_code == 200


def test_readyz_when_the_database_is_unreachable(make_app: Callable[..., Any]) -> None:
    app = make_app(database_url="mysql+pymysql://root@127.0.0.1:1/x")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # the process itself is fine
    r = client.get("/readyz")
    assert_problem(r, 503)
    assert int(r.headers["Retry-After"]) > 0
    # a request that needs the database says so, too
    r = client.post("/auth/login", json={"username": "abc", "password": "secret-pw"})
    assert_problem(r, 503)


@pytest.mark.sqlite_only
def test_openapi_lists_every_auth_path(client: Any) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    assert spec["openapi"].startswith("3.")
    assert AUTH_PATHS <= set(spec["paths"])
    assert {"/healthz", "/readyz"} <= set(spec["paths"])
    login = spec["paths"]["/auth/login"]["post"]
    assert {"200", "401", "422", "429"} <= set(login["responses"])
    problem = login["responses"]["401"]["content"]
    assert "application/problem+json" in problem
    me = spec["paths"]["/auth/me"]["get"]
    assert me["security"] and "BearerAuth" in spec["components"]["securitySchemes"]


@pytest.mark.sqlite_only
def test_docs_use_only_local_assets(client: Any) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]", html, re.IGNORECASE), html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 4
    for asset in assets:
        assert asset.startswith("/")
        with client.get(asset) as got:
            assert got.status_code == 200, asset
            assert got.get_data()
    spec_url = re.search(r'data-spec="([^"]+)"', html)
    assert spec_url and client.get(spec_url.group(1)).status_code == 200


@pytest.mark.sqlite_only
def test_docs_assets_are_only_the_known_files(client: Any) -> None:
    for name in ("../config.py", "index.html", "swagger-ui.js.map", "%2e%2e/db.py"):
        assert_problem(client.get(f"/docs/assets/{name}"), 404)
