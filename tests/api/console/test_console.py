"""The web console as the service serves it: its page, its files and their headers."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, assert_problem

# The console's files are the same whichever database the service uses.
pytestmark = pytest.mark.sqlite_only

CONSOLE = ROOT / "src" / "shopapi" / "console"
STATIC = CONSOLE / "static"
ASSET = re.compile(r'(?:src|href)="(/console/[0-9a-f]{16}/[^"]+)"')
IMPORT = re.compile(r'^import\s[^;]*?from\s+"([^"]+)";', re.MULTILINE | re.DOTALL)


def policy(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def asset_urls(client: Any) -> list[str]:
    return ASSET.findall(client.get("/").get_data(as_text=True))


def test_the_console_is_served_at_the_root_under_a_strict_policy(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert '<script type="module"' in response.get_data(as_text=True)
    csp = policy(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "data:"]  # the QR code arrives as a data: URI
    everything = " ".join(" ".join(s) for s in csp.values())
    assert "unsafe-inline" not in everything and "unsafe-eval" not in everything
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_has_no_inline_script_or_style(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "style=" not in html and "<style" not in html
    for script in re.findall(r"<script[^>]*>(.*?)</script>", html, re.DOTALL):
        assert script.strip() == ""
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_the_page_may_be_cached_and_is_revalidated(client: Any) -> None:
    first = client.get("/")
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]


def test_the_files_of_this_release_are_kept_by_browsers(client: Any) -> None:
    urls = asset_urls(client)
    assert {u.rsplit("/", 1)[1] for u in urls} == {"icon.svg", "console.css", "app.js"}
    version = urls[0].split("/")[2]
    modules = [p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js")]
    expected = {"css": "text/css", "svg": "image/svg+xml", "js": "text/javascript"}
    for name in ["console.css", "icon.svg", *modules]:
        with client.get(f"/console/{version}/{name}") as response:
            assert response.status_code == 200, name
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert "Expires" not in response.headers
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.mimetype == expected[name.rsplit(".", 1)[1]], name


def test_a_page_of_an_older_release_gets_the_current_files_uncached(client: Any) -> None:
    with client.get("/console/0123456789abcdef/app.js") as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.get_data() == (STATIC / "app.js").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/console/0123456789abcdef/missing.js",
        "/console/0123456789abcdef/../__init__.py",
        "/console/0123456789abcdef/%2e%2e/__init__.py",
        "/console/0123456789abcdef/..%2Findex.html",
        "/console/app.js",
    ],
)
def test_nothing_outside_the_console_files_is_served(client: Any, path: str) -> None:
    assert_problem(client.get(path), 404)


def test_every_html_page_refuses_to_be_framed(app: Any, client: Any) -> None:
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.arguments:
            continue
        with client.get(rule.rule) as response:
            if response.mimetype == "text/html":
                pages.append(rule.rule)
                assert response.headers["X-Frame-Options"] == "DENY", rule.rule
                assert policy(response)["frame-ancestors"] == ["'none'"], rule.rule
    assert {"/", "/docs"} <= set(pages)


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/api/products", "/auth/me"])
def test_answers_of_the_api_are_never_cached(client: Any, path: str) -> None:
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_the_console_is_not_part_of_the_api_document(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "/" not in paths
    assert not [p for p in paths if p.startswith("/console")]


def test_every_module_the_console_imports_is_one_of_its_files() -> None:
    for module in STATIC.rglob("*.js"):
        for target in IMPORT.findall(module.read_text(encoding="utf-8")):
            assert target.startswith("./") or target.startswith("../"), (module, target)
            assert (module.parent / target).resolve().is_file(), (module, target)


def test_every_console_file_is_in_the_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["shopapi"]
    package = ROOT / "src" / "shopapi"
    files = [p for p in CONSOLE.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}]
    assert files
    for path in files:
        name = path.relative_to(package).as_posix()
        assert any(_packaged(name, pattern) for pattern in patterns), f"{name} is not packaged"


def _packaged(name: str, pattern: str) -> bool:
    """setuptools' package-data glob: `*` stays within one folder."""
    return Path(name).parent == Path(pattern).parent and fnmatch.fnmatch(name, pattern)
