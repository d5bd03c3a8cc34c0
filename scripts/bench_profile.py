"""`make profile`: where a server's workers spend their time while wrk drives one endpoint."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

import requests
from bench_http import lua_get, run_wrk
from bench_servers import BIN, SERVICE, Server, Spec
from harness import free_port


class Rig(Protocol):
    """What a profile needs of bench.py's rig (a Protocol, so this module does not import
    bench.py, which imports it)."""

    first_id: int

    def bearer(self, url: str) -> str: ...

    def with_driver(self, driver: str) -> dict[str, str]: ...


TARGETS = ("page", "one", "healthz")


def profile(rig: Rig, spec: Spec, driver: str, out: Path, seconds: int, connections: int) -> None:
    """Sample every worker with py-spy while wrk drives BENCH_PROFILE_TARGET, the service
    on `driver`; write a flame graph to `out` and print the innermost frames of the service
    and its libraries."""
    import os

    target = os.environ.get("BENCH_PROFILE_TARGET", "page")
    if target not in TARGETS:
        raise SystemExit(f"BENCH_PROFILE_TARGET must be one of {', '.join(TARGETS)}")
    server = Server(spec, SERVICE, free_port(), rig.with_driver(driver))
    try:
        token = rig.bearer(server.url)
        path = {
            "page": "/api/products?limit=50",
            "one": f"/api/products/{rig.first_id + 1}",
            "healthz": "/healthz",
        }[target]
        assert requests.get(
            f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).ok
        raw = out.with_suffix(".txt")
        spies = [
            subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--subprocesses",
                    "--pid",
                    str(server.process.pid),
                    "--duration",
                    str(seconds),
                    "--format",
                    fmt,
                    "--output",
                    str(file),
                    "--rate",
                    "250",
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for fmt, file in (("flamegraph", out), ("raw", raw))
        ]
        time.sleep(1)
        result = run_wrk(server.url, lua_get(token, path), 2, connections, seconds)
        for spy in spies:
            spy.wait(timeout=seconds + 30)
    finally:
        server.stop()
    print(f"{spec.label} on {driver}: GET {path} under the profiler: {result['rps']:.1f} req/s")
    summarise(raw)
    print(f"\nflame graph: {out}")


def summarise(raw: Path) -> None:
    """Attribute each sample to the innermost frame outside the standard library (a time in
    `os.write` or a lock counts for the code that called it), then add up per package."""
    leaves: dict[str, int] = {}
    packages: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        own = [f for f in frames if _package(f) not in sys.stdlib_module_names]
        if not own:
            continue
        leaves[own[-1]] = leaves.get(own[-1], 0) + int(count)
        package = _package(own[-1])
        packages[package] = packages.get(package, 0) + int(count)
        total += int(count)
    print(f"\nwhere the samples were, per package ({total} samples):")
    for package, count in sorted(packages.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{count / total:6.1%}  {package}")
    print("\nper innermost frame outside the standard library:")
    for frame, count in sorted(leaves.items(), key=lambda kv: -kv[1])[:25]:
        print(f"{count / total:6.1%}  {frame}")


def _package(frame: str) -> str:
    """`Flask.wsgi_app (flask/app.py:1511)` -> `flask`; `<module> (app.py:3)` -> `app`."""
    path = frame.rpartition("(")[2].rstrip(")").rpartition(":")[0]
    return path.split("/", 1)[0].removesuffix(".py")
