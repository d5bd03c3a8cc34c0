"""The /docs page in a real headless Chromium: it renders offline and its requests work.

Needs Debian's `chromium` and `chromium-driver`. Without them the test skips, unless
REQUIRE_BROWSER=1 (as in CI), which turns their absence into a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from chromium import OUTPUT, RequestLog, chromium, severe_messages
from cryptography.fernet import Fernet
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from support import start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# Operations listed, or Swagger UI's "Unable to render this definition" / fetch errors.
RENDERED_OR_REFUSED = ".opblock, .version-pragma, .errors-wrapper"
LOCAL_SCHEMES = {"data", "blob", "about"}
WAIT = 30


class SpecNotRendered(AssertionError):
    """Swagger UI loaded but refused the OpenAPI document."""


@pytest.fixture
def docs_server(tmp_path: Path) -> Iterator[str]:
    """`python app.py` on a free port with a scratch SQLite database; yields its base URL.

    One backend is enough here: the page and its assets do not touch the database.
    """
    env = {
        "APP_ENV": "test",
        "JWT_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'docs.sqlite3'}",
        "REDIS_URL": "",
    }
    server = start_server(env, tmp_path / "server.log")
    try:
        yield server.url
    finally:
        stop_server(server)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path) as driver:
        yield driver


def _leaves_machine(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in LOCAL_SCHEMES and parts.hostname != "127.0.0.1"


def _operation(driver: Any, method: str, path: str) -> Any:
    for block in driver.find_elements(By.CSS_SELECTOR, f".opblock.opblock-{method}"):
        summary_path = block.find_element(By.CSS_SELECTOR, ".opblock-summary-path")
        if summary_path.get_attribute("data-path") == path or summary_path.text == path:
            return block
    raise AssertionError(f"{method.upper()} {path} is not listed on /docs")


def test_docs_page_renders_offline_and_executes_healthz(browser: Any, docs_server: str) -> None:
    requests_seen = RequestLog(browser)
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "docs-browser.png"
    wait = WebDriverWait(browser, WAIT)

    browser.get(f"{docs_server}/docs")
    try:
        # Swagger UI shows either the operations or why it cannot render the document.
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, RENDERED_OR_REFUSED)))
        page = browser.find_element(By.ID, "swagger-ui").text
        if not browser.find_elements(By.CSS_SELECTOR, ".opblock"):
            raise SpecNotRendered(f"Swagger UI did not render /openapi.json: {page!r}")
        # The operations of both resources are listed, each with its method.
        for text in ("/auth/register", "/auth/login", "/auth/verify", "/auth/me"):
            assert text in page, f"{text} missing from /docs"
        assert "/api/products" in page, "the products operations are missing from /docs"
        assert "}/history" in page, "the product history operation is missing from /docs"

        # Try it out -> Execute on GET /healthz shows the live response code.
        healthz = _operation(browser, "get", "/healthz")
        healthz.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        wait.until(lambda _: healthz.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
        healthz.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
        wait.until(lambda _: healthz.find_elements(By.CSS_SELECTOR, ".btn.execute"))
        healthz.find_element(By.CSS_SELECTOR, ".btn.execute").click()
        live = ".live-responses-table .response .response-col_status"
        wait.until(lambda _: healthz.find_elements(By.CSS_SELECTOR, live))
        assert healthz.find_element(By.CSS_SELECTOR, live).text.strip() == "200"
        assert (
            '"status": "ok"' in healthz.find_element(By.CSS_SELECTOR, ".live-responses-table").text
        )
    except (AssertionError, TimeoutException):
        browser.save_screenshot(str(screenshot))
        print(f"screenshot of the failure: {screenshot}")
        raise
    browser.execute_script("arguments[0].scrollIntoView()", healthz)
    browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")

    # Every request the page made stayed on this machine, and they include the assets.
    urls = requests_seen.collect()
    assert not [u for u in urls if _leaves_machine(u)], urls
    paths = {urlsplit(u).path for u in urls if urlsplit(u).scheme == "http"}
    assert {"/docs", "/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/healthz"} <= paths
    # No Content-Security-Policy violation or script error in the page.
    severe = severe_messages(browser)
    assert not severe, severe
