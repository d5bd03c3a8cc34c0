"""The console's modules under Node's own test runner (tests/js/), or under node alone, no
browser needed.

Skipped where node is missing, unless REQUIRE_BROWSER=1 (as in CI) makes it a failure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from support import ROOT, absent

from shopapi.products.fields import MAX_PRICE

MAX_NAME = 100
MAX_DESCRIPTION = 255


def test_the_console_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        absent("node is missing (apt-get install nodejs)", "REQUIRE_BROWSER")
    files = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.js"))
    assert files
    run = subprocess.run(  # noqa: S603 - node and the repository's own test files
        [node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


# Prints the product form's hints for the OpenAPI document on stdin.
_HINTS = """
import { productHints } from "./src/shopapi/console/static/pages/product-form.js";
let text = "";
for await (const chunk of process.stdin) text += chunk;
const rules = JSON.parse(text).components.schemas.ProductIn.properties;
process.stdout.write(JSON.stringify(productHints(rules)));
"""


def test_the_product_form_hints_state_the_limits_the_service_publishes(client: Any) -> None:
    node = shutil.which("node")
    if node is None:
        absent("node is missing (apt-get install nodejs)", "REQUIRE_BROWSER")
    document = client.get("/openapi.json").get_data(as_text=True)
    run = subprocess.run(  # noqa: S603 - node and the repository's own module
        [node, "--input-type=module", "-e", _HINTS],
        cwd=ROOT,
        input=document,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    hints = json.loads(run.stdout)
    assert hints["name"] == f"1 to {MAX_NAME} characters."
    assert hints["description"] == f"Up to {MAX_DESCRIPTION} characters; may be left empty."
    assert hints["price"] == f"From 0 to {MAX_PRICE}, at most two decimals, e.g. 19.90."
    assert hints["quantity"] == "A whole number from 0."
