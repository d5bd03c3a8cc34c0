"""Debian's headless Chromium for the browser tests: started offline, its requests logged.

Needs `chromium` and `chromium-driver`. Without them the browser tests skip, unless
REQUIRE_BROWSER=1 (as in CI), which turns their absence into a failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from support import ROOT, absent

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER_PATH", "/usr/bin/chromedriver"))
OUTPUT = ROOT / "test-output"
# Without the background-networking flags Chromium phones home (updates, sync, safe
# browsing), which floods a closed network and is not what the page does.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
BROWSER_UI_SCHEMES = {"chrome", "chrome-untrusted"}


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    absent(
        f"not installed: {', '.join(missing)} (apt-get install -y chromium chromium-driver)",
        "REQUIRE_BROWSER",
    )


@contextmanager
def chromium(
    profile: Path, window: tuple[int, int] = (1280, 2400), downloads: Path | None = None
) -> Iterator[Any]:
    """A headless Chromium with a new empty profile, driven by chromedriver."""
    require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={window[0]},{window[1]}")
    options.add_argument(f"--user-data-dir={profile / 'chromium-profile'}")
    if downloads is not None:
        options.add_experimental_option(
            "prefs",
            {"download.default_directory": str(downloads), "download.prompt_for_download": False},
        )
    # The DevTools performance log records every network request the page makes.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


class RequestLog:
    """URLs of the Network.requestWillBeSent events of the page (the log drains on read),
    and the headers each request went with (what a proxy on the way would see)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.urls: list[str] = []
        self.headers: list[dict[str, str]] = []

    def collect(self) -> list[str]:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            params = message["params"]
            # Chromium's own UI pages (the new-tab page open at start-up) load chrome://
            # resources from the binary; they are not requests of the page under test.
            if urlsplit(params.get("documentURL", "")).scheme in BROWSER_UI_SCHEMES:
                continue
            self.urls.append(params["request"]["url"])
            self.headers.append(params["request"].get("headers", {}))
        return self.urls


def severe_messages(driver: Any) -> list[str]:
    """Errors the page logged: script errors, refused requests, policy violations."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]


def no_page_errors(driver: Any, *provoked: int) -> None:
    """No script error or refused load; Chromium also logs every 4xx answer to fetch(),
    so the statuses a test `provoked` on purpose (a bad price, a stale version) pass."""
    expected = tuple(f"the server responded with a status of {status}" for status in provoked)
    errors = [m for m in severe_messages(driver) if not any(e in m for e in expected)]
    assert not errors, errors


def same_origin_only(urls: list[str], base: str) -> None:
    """Every request went to `base`'s origin (or stayed in the page: data:, blob:)."""
    origin = urlsplit(base)
    outside = [
        u
        for u in urls
        if urlsplit(u).scheme not in {"data", "blob"}
        and (urlsplit(u).scheme, urlsplit(u).netloc) != (origin.scheme, origin.netloc)
    ]
    assert not outside, f"requests outside {base}: {outside}"
    assert urls, "no request was seen"


def screenshot(driver: Any, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path
