"""What every console test starts from: headless Chromium with a downloads folder, and the
console's driver on the live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import chromium
from console_driver import Console, axe_source
from support import LiveServer


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


@pytest.fixture
def browser(tmp_path: Path, downloads: Path) -> Iterator[Any]:
    with chromium(tmp_path, window=(1280, 1000), downloads=downloads) as driver:
        yield driver


@pytest.fixture
def console(browser: Any, live_server: LiveServer, backend: str) -> Console:
    return Console(browser, live_server.url, axe_source(), backend)
