"""The table of settings in docs/operations/configuration.md is the declared one: a setting
added, removed, or given another default or meaning in `shopapi.config` without the docs
following fails here."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support import ROOT

from shopapi.cli import settings_cli
from shopapi.config import Settings
from shopapi.setting import declared, setting, table, table_in

CONFIGURATION = ROOT / "docs" / "operations" / "configuration.md"
SRC = ROOT / "src" / "shopapi"
_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \|", re.MULTILINE)
# Where the service reads a variable of the process environment itself.
_ENV_READ = re.compile(r"""(?:os\.environ(?:\.get)?|os\.getenv)[\[(]\s*["']([A-Z0-9_]+)["']""")


def drift(document: str, cls: type[Any]) -> list[str]:
    """How the table of `document` differs from the settings `cls` declares, one line each."""
    documented = {
        m.group(1): line for line in table_in(document).splitlines() if (m := _ROW.match(line))
    }
    rows = {each.variable: each.row() for _, each in declared(cls)}
    problems = [f"{name}: declared, not in the docs" for name in rows if name not in documented]
    problems += [f"{name}: in the docs, not declared" for name in documented if name not in rows]
    problems += [
        f"{name}: the docs say {documented[name]!r}, the declaration {row!r}"
        for name, row in rows.items()
        if name in documented and documented[name] != row
    ]
    return problems


def test_the_configuration_table_is_the_declared_one() -> None:
    document = CONFIGURATION.read_text(encoding="utf-8")
    rerun = "run: flask settings table --write docs/operations/configuration.md"
    assert drift(document, Settings) == [], rerun
    assert table_in(document) == table(Settings)  # the same order and header too


def test_a_setting_added_or_changed_in_code_shows_as_drift() -> None:
    @dataclasses.dataclass(frozen=True)
    class Grown(Settings):
        purge_interval: int = setting(900, "Seconds between two purges.")
        stock_alert_level: int = setting(5, "Units below which a product is reported.")

    problems = drift(CONFIGURATION.read_text(encoding="utf-8"), Grown)
    assert "STOCK_ALERT_LEVEL: declared, not in the docs" in problems
    assert any(line.startswith("PURGE_INTERVAL: the docs say") for line in problems)
    assert len(problems) == 2


def test_a_setting_only_in_the_docs_shows_as_drift() -> None:
    document = CONFIGURATION.read_text(encoding="utf-8")
    extra = "| `OLD_KNOB` | `1` | Gone from the code. |\n<!-- end of the settings table -->"
    assert drift(document.replace("<!-- end of the settings table -->", extra), Settings) == [
        "OLD_KNOB: in the docs, not declared"
    ]


def test_every_field_of_the_settings_is_declared_or_fixed() -> None:
    loose = [
        field.name
        for field in dataclasses.fields(Settings)
        if "setting" not in field.metadata and "fixed" not in field.metadata
    ]
    assert loose == []


def test_every_variable_the_service_reads_itself_is_declared() -> None:
    read = {
        name
        for path in SRC.rglob("*.py")
        for name in _ENV_READ.findall(path.read_text(encoding="utf-8"))
    }
    assert "PROMETHEUS_MULTIPROC_DIR" in read  # the scan sees the reads there are
    variables = {each.variable for _, each in declared(Settings)}
    assert sorted(read - variables) == []


def test_flask_settings_table_writes_the_configuration_as_it_is(tmp_path: Path) -> None:
    copy = tmp_path / "configuration.md"
    shutil.copy(CONFIGURATION, copy)
    stale = copy.read_text(encoding="utf-8").replace("| `PORT` | `5000` |", "| `PORT` | `80` |")
    copy.write_text(stale, encoding="utf-8")
    result = CliRunner().invoke(settings_cli, ["table", "--write", str(copy)])
    assert result.exit_code == 0, result.output
    assert copy.read_text(encoding="utf-8") == CONFIGURATION.read_text(encoding="utf-8")


def test_flask_settings_table_refuses_a_document_without_the_markers(tmp_path: Path) -> None:
    other = tmp_path / "NOTES.md"
    other.write_text("# Notes\n", encoding="utf-8")
    result = CliRunner().invoke(settings_cli, ["table", "--write", str(other)])
    assert result.exit_code == 1
    assert "lacks the markers" in result.output
    assert other.read_text(encoding="utf-8") == "# Notes\n"
