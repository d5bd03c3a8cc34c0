"""The console's modules under Node's own test runner (tests/js/), no browser needed.

Skipped where node is missing, unless REQUIRE_BROWSER=1 (as in CI) makes it a failure.
"""

from __future__ import annotations

import shutil
import subprocess

from support import ROOT, absent


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
