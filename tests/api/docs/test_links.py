"""The documentation stays inside the repository and keeps up with the service.

Whoever clones the repository must be able to follow every link of the README and of
docs/ (all of its folders), and docs/api/reference.md must name every operation of
/openapi.json (and nothing the service does not answer), so that a new endpoint cannot go
undocumented unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support import ROOT

# The documents and the OpenAPI document do not depend on the database.
pytestmark = pytest.mark.sqlite_only

API_DOC = ROOT / "docs" / "api" / "reference.md"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
_ENDPOINT = re.compile(rf"\b({'|'.join(METHODS)}) (/[A-Za-z0-9_.{{}}<>:/-]*)")
_PARAMETER = re.compile(r"\{[^}]*\}|<[^>]*>")


def _prose(text: str) -> str:
    """The text without fenced code blocks (shell comments there are not headings)."""
    return _FENCE.sub("", text)


def links(text: str) -> list[str]:
    """Every link target of a Markdown text, outside code: inline, reference and HTML."""
    prose = _CODE_SPAN.sub("", _prose(text))
    found = [*_MARKDOWN_LINK.findall(prose), *_REFERENCE.findall(prose)]
    return found + _HTML_LINK.findall(prose)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped, spaces
    as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in _HEADING.findall(_prose(text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(document: Path, root: Path) -> list[str]:
    """What is wrong with the relative links of `document`, one line per link."""
    problems = []
    text = document.read_text(encoding="utf-8")
    for target in links(text):
        if _SCHEME.match(target):
            continue  # an address on the web, not a file of the repository
        path, _, fragment = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.is_relative_to(root.resolve()):
            problems.append(f"{target}: leaves the repository")
        elif not linked.exists():
            problems.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md":
            if fragment not in anchors(linked.read_text(encoding="utf-8")):
                problems.append(f"{target}: no such heading in {linked.name}")
    return problems


def _operation(method: str, path: str) -> tuple[str, str]:
    return method, _PARAMETER.sub("{}", path.rstrip(".").rstrip("/") or "/")


def documented_operations() -> set[tuple[str, str]]:
    text = API_DOC.read_text(encoding="utf-8")
    return {_operation(method, path) for method, path in _ENDPOINT.findall(text)}


# --- the repository's own documents ----------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document: Path) -> None:
    assert broken_links(document, ROOT) == []


def test_the_readme_links_to_the_api_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/api/reference.md" in links(readme)
    assert "../../README.md" in links(API_DOC.read_text(encoding="utf-8"))


def test_the_checker_finds_each_kind_of_broken_link(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("# Guide\n\n## Getting started\n", encoding="utf-8")
    readme = root / "README.md"
    readme.write_text(
        "# Project\n\n"
        "[contract](../shared/API.md) [guide](docs/guide.md#getting-started)\n"
        "[gone](docs/missing.md) [anchor](docs/guide.md#nowhere) [here](#project)\n"
        '<img src="docs/nothing.png" alt=""> [web](https://example.org/x)\n\n'
        "```sh\n# not a heading [in code](docs/also-missing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(readme, root) == [
        "../shared/API.md: leaves the repository",
        "docs/missing.md: no such file",
        "docs/guide.md#nowhere: no such heading in guide.md",
        "docs/nothing.png: no such file",
    ]


def test_anchors_are_the_ones_github_makes() -> None:
    text = "# Shop API\n## `POST /admin/users/{id}/unlock`\n## Versions, `ETag` and `If-Match`\n"
    text += "## Figures (2026-11-26)\n## Figures (2026-11-26)\n"
    assert anchors(text) == {
        "shop-api",
        "post-adminusersidunlock",
        "versions-etag-and-if-match",
        "figures-2026-11-26",
        "figures-2026-11-26-1",
    }


# --- docs/api/reference.md against the service -----------------------------------------


def test_every_operation_of_the_openapi_document_is_in_the_reference(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    operations = {
        _operation(method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in METHODS
    }
    assert len(operations) >= 30  # the document was read, not an empty one
    missing = sorted(operations - documented_operations())
    assert missing == [], f"add these to docs/api/reference.md: {missing}"


def test_every_operation_in_the_reference_is_answered_by_the_service(app: Any) -> None:
    routes = {
        _operation(method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    unknown = sorted(documented_operations() - routes)
    assert unknown == [], f"docs/api/reference.md names operations not served: {unknown}"
