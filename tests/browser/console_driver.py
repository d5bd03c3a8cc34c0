"""A person at the web console, as the browser tests drive it: by labels, buttons and links.

Finds controls the way a person does (by their visible label or text), checks each
screen with axe-core, and keeps screenshots under test-output/console/ (and, with
CONSOLE_SCREENSHOTS=docs/screenshots, the pictures of docs/console.md, secrets blurred).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pyotp
import zxingcpp
from chromium import OUTPUT
from PIL import Image, ImageFilter
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from support import PASSWORD, ROOT, absent

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WAIT = 20
# Pictures for docs/console.md, when asked for (see `make screenshots`).
DOCS_SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", "")
# The focused element's outline, and its name as a person reads it (its label or text).
FOCUS_AND_NAME = """
const e = arguments[0], s = getComputedStyle(e);
const named = e.labels && e.labels.length ? e.labels[0] : e;
return [[s.outlineStyle, parseFloat(s.outlineWidth)], (named.innerText || "").trim()];
"""
# Runs axe on the whole document; a failure of axe itself counts as a critical finding.
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.map((n) => n.target.join(" "))}))),
  (e) => done([{id: "axe", impact: "critical", help: String(e), nodes: []}]));
"""


def axe_source() -> str:
    """axe-core from node_modules (npm ci installs the version package-lock.json pins)."""
    if AXE.exists():
        return AXE.read_text(encoding="utf-8")
    absent(f"{AXE} is missing (npm ci installs it) for the accessibility check", "REQUIRE_BROWSER")


def _quote(text: str) -> str:
    """An XPath string literal for any text (XPath 1.0 has no escape for quotes)."""
    if "'" not in text:
        return f"'{text}'"
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


class Console:
    def __init__(self, driver: Any, base_url: str, axe: str, shots: str) -> None:
        self.driver = driver
        self.base = base_url
        self.axe = axe
        self.shots = OUTPUT / "console" / shots
        # The authenticator app of the last account signed up (what the phone holds).
        self.totp: pyotp.TOTP | None = None

    # --- finding things as a person does ---------------------------------------------

    def wait(self, condition: Any, timeout: float = WAIT) -> Any:
        ignored = [StaleElementReferenceException]
        return WebDriverWait(self.driver, timeout, ignored_exceptions=ignored).until(
            lambda _: condition()
        )

    def _visible(self, xpath: str) -> Any:
        found = [e for e in self.driver.find_elements(By.XPATH, xpath) if e.is_displayed()]
        return found[0] if found else None

    def find(self, xpath: str, what: str) -> Any:
        try:
            return self.wait(lambda: self._visible(xpath))
        except Exception as error:
            raise AssertionError(f"not on the screen: {what} ({self.heading()!r})") from error

    def heading(self) -> str:
        headings = self.driver.find_elements(By.TAG_NAME, "h1")
        return str(headings[0].text) if headings else ""

    def on_page(self, title: str) -> None:
        try:
            self.wait(lambda: self.heading() == title)
        except Exception as error:
            raise AssertionError(f"expected the page {title!r}, saw {self.heading()!r}") from error

    def field(self, label: str) -> Any:
        """The input whose label starts with `label` (the "(required)" mark aside)."""
        tag = self.find(f"//label[normalize-space(text())={_quote(label)}]", f"the field {label!r}")
        return self.driver.find_element(By.ID, tag.get_attribute("for"))

    def fill(self, label: str, value: str) -> None:
        element = self.field(label)
        element.clear()
        element.send_keys(value)

    def value(self, label: str) -> str:
        return str(self.field(label).get_attribute("value"))

    def error_beside(self, label: str) -> str:
        """The error message shown with a field (the element its aria-describedby names)."""
        element = self.field(label)
        try:
            self.wait(lambda: element.get_attribute("aria-invalid") == "true")
        except Exception as error:
            raise AssertionError(f"{label} is not marked invalid") from error
        for ident in (element.get_attribute("aria-describedby") or "").split():
            shown = self.driver.find_element(By.ID, ident)
            if "field-error" in (shown.get_attribute("class") or "") and shown.is_displayed():
                return str(shown.text)
        raise AssertionError(f"no error shown beside {label}")

    def button(self, text: str) -> Any:
        return self.find(f"//button[normalize-space(.)={_quote(text)}]", f"the button {text!r}")

    def link(self, text: str) -> Any:
        return self.find(f"//a[normalize-space(.)={_quote(text)}]", f"the link {text!r}")

    def click(self, text: str) -> None:
        """Press the button, or follow the link, that reads `text`."""
        name = _quote(text)
        xpath = f"//button[normalize-space(.)={name}] | //a[normalize-space(.)={name}]"
        self.find(xpath, f"{text!r}").click()

    def alert(self) -> str:
        return str(self.find("//*[@role='alert' and contains(@class, 'alert')]", "an alert").text)

    def flash(self) -> str:
        return str(self.find("//*[contains(@class, 'flash')]", "a message").text)

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "main").text)

    def shows(self, text: str) -> None:
        """`text` appears on the page (pages draw what the API answers when it arrives)."""
        try:
            self.wait(lambda: text in self.text())
        except Exception as error:
            raise AssertionError(f"{text!r} never appeared: {self.text()!r}") from error

    def rows(self, table_class: str = "products") -> list[list[str]]:
        self.find(f"//table[contains(@class, {_quote(table_class)})]", "the table")
        cells = self.driver.execute_script(
            "return [...document.querySelectorAll(`table.${arguments[0]} tbody tr`)]"
            ".map(tr => [...tr.children].map(td => td.innerText.trim()))",
            table_class,
        )
        return [list(row) for row in cells]

    def sign_in_with_recovery_code(self, password: str, code: str, check: str = "") -> None:
        """The sign-in form (page or dialog), username filled: the password, then a
        recovery code instead of the app's (`check`: the axe check's name, before sending)."""
        self.fill("Password", password)
        self.button("Continue").click()
        self.field("a recovery code").click()
        self.fill("Recovery code", code)
        if check:
            self.check(check)
        self.button("Sign in").click()

    def sign_up(self, username: str) -> list[str]:
        """Register in the console and sign in with the app's first code; the recovery codes."""
        self.driver.get(f"{self.base}/#/register")
        self.on_page("Create an account")
        self.fill("Username", username)
        self.fill("Password", PASSWORD)
        self.button("Create account").click()
        self.on_page("Set up your authenticator")
        totp = pyotp.parse_uri(self.scan_qr_code())
        assert isinstance(totp, pyotp.TOTP)
        self.totp = totp
        codes = [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, ".codes li")]
        self.field("I have saved my recovery codes").click()
        self.button("Continue").click()
        self.on_page("Confirm your authenticator")
        self.fill("6-digit code from your authenticator app", totp.now())
        self.button("Sign in").click()
        self.on_page("Products")
        return codes

    def sign_in(self, username: str, password: str, recovery_code: str) -> None:
        """The sign-in page, from the start, with a recovery code."""
        self.driver.get(f"{self.base}/#/sign-in")
        self.on_page("Sign in")
        self.fill("Username", username)
        self.sign_in_with_recovery_code(password, recovery_code)

    def prove(self, password: str, recovery_code: str) -> None:
        """The fresh proof of an account page: the password and a recovery code."""
        self.fill("Current password", password)
        self.field("a recovery code").click()
        self.fill("Recovery code", recovery_code)

    def dialog(self, title: str) -> Any:
        return self.find(f"//dialog//h2[.={_quote(title)}]", f"the dialog {title!r}")

    # --- the keyboard, and a small screen ---------------------------------------------

    def tab_to(self, name: str, back: bool = False, limit: int = 40) -> Any:
        """Press Tab (Shift+Tab) until the control called `name` has focus; each stop
        must show where the focus is."""
        for _ in range(limit):
            keys = ActionChains(self.driver)
            if back:
                keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
            else:
                keys.send_keys(Keys.TAB)
            keys.perform()
            focused = self.driver.switch_to.active_element
            if focused.tag_name == "body":  # the page itself, before the first control
                continue
            outline, label = self.driver.execute_script(FOCUS_AND_NAME, focused)
            assert outline[0] != "none" and outline[1] >= 2, f"no visible focus on {label!r}"
            if label == name or label.startswith(f"{name} ("):
                return focused
        raise AssertionError(f"{name!r} cannot be reached with the Tab key")

    def press(self, *keys: str) -> None:
        """Type into whatever has the focus."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def fits(self) -> None:
        """Nothing sticks out sideways: no horizontal scrolling."""
        width = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert width[0] <= width[1], f"the page is wider than the screen: {width}"

    # --- what only a test does ------------------------------------------------------

    def scan_qr_code(self) -> str:
        """Decode the QR code as the screen shows it (a phone camera would see the same)."""
        image = self.find("//img[contains(@class, 'qr')]", "the QR code")
        self.wait(lambda: self.driver.execute_script("return arguments[0].complete", image))
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.screenshot_as_png)))
        assert found, "no QR code could be read from the page"
        return str(found[0].text)

    def check(self, name: str, blur: tuple[str, ...] = (), docs: bool = False) -> None:
        """No serious or critical axe-core violation on this screen; keep a screenshot
        (`docs`: a picture of docs/console.md, with the `blur` selectors blurred)."""
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(self.axe)
        result = self.driver.execute_async_script(AXE_RUN)
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not bad, f"accessibility violations on {name}: {bad}"
        self.screenshot(name, blur, docs)

    def screenshot(self, name: str, blur: tuple[str, ...] = (), docs: bool = False) -> Path:
        png = self.driver.get_screenshot_as_png()
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        path.write_bytes(png)
        if docs and DOCS_SHOTS:
            self._docs_copy(png, Path(DOCS_SHOTS), name, blur)
        return path

    def _docs_copy(self, png: bytes, folder: Path, name: str, blur: tuple[str, ...]) -> None:
        image = Image.open(io.BytesIO(png)).convert("RGB")
        for selector in blur:  # a QR code, a key or recovery codes: never in the repository
            for box in self.driver.execute_script(
                "return [...document.querySelectorAll(arguments[0])].map(e => {"
                "const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]})",
                selector,
            ):
                region = tuple(int(v) for v in box)
                image.paste(image.crop(region).filter(ImageFilter.GaussianBlur(10)), region[:2])
        folder = folder if folder.is_absolute() else ROOT / folder
        folder.mkdir(parents=True, exist_ok=True)
        image.quantize(colors=64).save(folder / f"{name}.png", optimize=True)

    def storage(self) -> dict[str, Any]:
        return dict(
            self.driver.execute_script(
                "return {local: localStorage.length, session: sessionStorage.length,"
                " cookie: document.cookie}"
            )
        )

    def downloaded(self, folder: Path, timeout: float = WAIT, pattern: str = "*.txt") -> str:
        """The text of the file (`pattern`) the browser downloaded into `folder`, once it is whole:
        no download in progress, and the same content twice in a row (Chromium may show
        the file before it has written all of it)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            done = sorted(folder.glob(pattern)) if folder.exists() else []
            busy = list(folder.glob("*.crdownload")) if folder.exists() else []
            if done and not busy:
                text = done[-1].read_text(encoding="utf-8")
                if text and text == last:
                    return text
                last = text
            time.sleep(0.2)
        raise AssertionError("nothing was downloaded")
