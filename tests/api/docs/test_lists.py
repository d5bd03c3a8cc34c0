"""The lists a reader extends are declared once in the code, and the docs keep up with them.

An event type or a role added in code and missing from the API docs (docs/api/) fails
here, and so does one the docs name that the code does not have; the console's labels of
event types are held against the same declaration.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import ROOT

from shopapi.audit.events import TYPES
from shopapi.caller.roles import PERMISSIONS
from shopapi.config import ROLES

ACCOUNT_DOC = ROOT / "docs" / "api" / "account.md"
ROLES_DOC = ROOT / "docs" / "api" / "roles.md"
API_DOC = ROOT / "docs" / "api" / "reference.md"
SECURITY_LOG_PAGE = ROOT / "src" / "shopapi" / "console" / "static" / "pages" / "security-log.js"

_FIRST_CELL = re.compile(r"^\| *([^|]*?) *\|")


def section(document: Path, heading: str) -> str:
    """The text under `heading` (e.g. "## Roles"), up to the next heading of its level or
    above."""
    text = "\n" + document.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    ends = [m.start() for m in re.finditer(rf"\n#{{1,{len(level)}}} ", text[start + 1 :])]
    return text[start : start + 1 + ends[0]] if ends else text[start:]


def table_names(text: str) -> set[str]:
    """The names in backticks in the first cells of the first table's rows in `text`."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| ---"))
    names: set[str] = set()
    for line in lines[header + 1 :]:
        cell = _FIRST_CELL.match(line)
        if cell is None:
            break
        names |= set(re.findall(r"`([^`]+)`", cell.group(1)))
    return names


@pytest.mark.parametrize(
    ("document", "heading"), [(ACCOUNT_DOC, "## Security log"), (API_DOC, "## Security log")]
)
def test_the_docs_table_of_event_types_is_the_declared_list(document: Path, heading: str) -> None:
    assert table_names(section(document, heading)) == set(TYPES)


@pytest.mark.parametrize(
    ("document", "heading"), [(ROLES_DOC, "# Roles and administration"), (API_DOC, "## Roles")]
)
def test_the_docs_table_of_roles_is_the_declared_list(document: Path, heading: str) -> None:
    assert table_names(section(document, heading)) == set(ROLES)


def test_the_docs_name_every_permission_me_may_show() -> None:
    documented = table_names(section(API_DOC, "### `GET /auth/me`"))
    assert documented == set(PERMISSIONS)


def test_the_console_labels_every_event_type_and_no_other() -> None:
    source = SECURITY_LOG_PAGE.read_text(encoding="utf-8")
    block = re.search(r"export const EVENT_TYPES = \{(.*?)\n\};", source, re.DOTALL)
    assert block is not None
    labelled = re.findall(r"^\s*([a-z_]+):", block.group(1), re.MULTILINE)
    assert sorted(labelled) == sorted(TYPES)
