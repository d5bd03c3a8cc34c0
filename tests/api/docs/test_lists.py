"""The lists a reader extends are declared once in the code, and the docs keep up with them.

An event type, a role or a product field added in code and missing from the docs (docs/api/,
and the tutorial for product fields) fails here, and so does one the docs name that the
code does not have; the console's labels of event types are held against the same
declaration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import ROOT

from shopapi.audit.events import TYPES
from shopapi.caller.roles import PERMISSIONS
from shopapi.config import ROLES
from shopapi.products.declaration import PRODUCT
from shopapi.products.models import PRODUCTS, products
from shopapi.webhooks.outbox import EVENT_TYPES

ACCOUNT_DOC = ROOT / "docs" / "api" / "account.md"
ROLES_DOC = ROOT / "docs" / "api" / "roles.md"
API_DOC = ROOT / "docs" / "api" / "reference.md"
WEBHOOKS_DOC = ROOT / "docs" / "api" / "webhooks.md"
TUTORIAL = ROOT / "docs" / "tutorial.md"
SECURITY_LOG_PAGE = ROOT / "src" / "shopapi" / "console" / "static" / "pages" / "security-log.js"

_FIRST_CELL = re.compile(r"^\| *([^|]*?) *\|")
_JSON_EXAMPLE = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)
_BULLET_NAMES = re.compile(r"^- (`[^`]+`(?:(?:, | and )`[^`]+`)*)", re.MULTILINE)

FIELDS = {f.name for f in PRODUCT.fields}
# And the fields a product's reads derive from other tables (what reservations hold).
DERIVED = set(PRODUCTS.effects.derived(products))
WRITABLE = set(PRODUCT.writable_names)


def section(document: Path, heading: str) -> str:
    """The text under `heading` (e.g. "## Roles"), up to the next heading of its level or
    above."""
    text = "\n" + document.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    ends = [m.start() for m in re.finditer(rf"\n#{{1,{len(level)}}} ", text[start + 1 :])]
    return text[start : start + 1 + ends[0]] if ends else text[start:]


def table_rows(text: str) -> list[list[str]]:
    """The cells of the first table's rows in `text` (not its header)."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| ---"))
    rows = []
    for line in lines[header + 1 :]:
        if _FIRST_CELL.match(line) is None:
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def table_names(text: str, where: str | None = None) -> set[str]:
    """The names in backticks in the first cells of the first table's rows in `text`, of
    the rows whose second cell is `where` when it is given."""
    names: set[str] = set()
    for row in table_rows(text):
        if where is None or row[1] == where:
            names |= set(re.findall(r"`([^`]+)`", row[0]))
    return names


def example_fields(text: str) -> set[str]:
    """The keys of the first JSON example in `text`."""
    example = _JSON_EXAMPLE.search(text)
    assert example is not None, "no JSON example"
    return set(json.loads(example.group(1)))


def bullet_names(text: str) -> set[str]:
    """The names in backticks that open the bullets of `text` ("- `a`, `b` and `c` ...")."""
    names: set[str] = set()
    for opening in _BULLET_NAMES.findall(text):
        names |= set(re.findall(r"`([^`]+)`", opening))
    return names


@pytest.mark.parametrize(
    ("document", "heading"), [(ACCOUNT_DOC, "## Security log"), (API_DOC, "## Security log")]
)
def test_the_docs_table_of_event_types_is_the_declared_list(document: Path, heading: str) -> None:
    assert table_names(section(document, heading)) == set(TYPES)


def test_the_webhooks_table_of_event_types_is_the_declared_list() -> None:
    documented = table_names(section(WEBHOOKS_DOC, "## What a delivery looks like"))
    assert documented == set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("document", "heading"), [(ROLES_DOC, "# Roles and administration"), (API_DOC, "## Roles")]
)
def test_the_docs_table_of_roles_is_the_declared_list(document: Path, heading: str) -> None:
    assert table_names(section(document, heading)) == set(ROLES)


def test_the_docs_name_every_permission_me_may_show() -> None:
    documented = table_names(section(API_DOC, "### `GET /auth/me`"))
    assert documented == set(PERMISSIONS)


def test_the_reference_table_of_product_fields_is_the_declared_list() -> None:
    products = section(API_DOC, "## Products")
    assert table_names(products) == FIELDS | DERIVED
    assert table_names(products, where="the client") == WRITABLE


@pytest.mark.parametrize(
    ("document", "heading"), [(API_DOC, "## Products"), (TUTORIAL, "## Products")]
)
def test_the_docs_example_product_has_the_declared_fields(document: Path, heading: str) -> None:
    assert example_fields(section(document, heading)) == FIELDS | DERIVED


def test_the_tutorial_describes_every_declared_product_field() -> None:
    products = section(TUTORIAL, "## Products")
    described = bullet_names(products[: products.index("\n### ")])
    assert described == FIELDS | DERIVED


def test_the_console_labels_every_event_type_and_no_other() -> None:
    source = SECURITY_LOG_PAGE.read_text(encoding="utf-8")
    block = re.search(r"export const EVENT_TYPES = \{(.*?)\n\};", source, re.DOTALL)
    assert block is not None
    labelled = re.findall(r"^\s*([a-z_]+):", block.group(1), re.MULTILINE)
    assert sorted(labelled) == sorted(TYPES)
