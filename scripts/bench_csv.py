"""`make bench`'s CSV run: the catalogue's import and export through `make serve`'s server.

Creates a scratch MariaDB database, migrates it and starts the production server
(`python -m shopapi.serving`, one worker process, so its memory is one process's). Then:

1. imports `--lines N` (100,000) new products from one CSV file, and the same file again
   with every price and quantity changed (N updates, each with its history row and
   stock movement), timing each and sampling the worker's resident memory (VmRSS) every
   20 ms: the growth is the peak during the request less the value just before it;
2. loads products up to `--export N` (1,000,000) in bulk (`flask seed-products`) and
   exports them all, timing it and sampling the worker's memory the same way.

The database is dropped at the end.

    .venv/bin/python scripts/bench_csv.py --lines 100000 --export 1000000
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from bench_http import Account
from cryptography.fernet import Fernet
from harness import ROOT, launch, scratch_database

SERVER_URL = os.environ.get("BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
MIB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident memory of process `pid`, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextmanager
def sampled(pid: int) -> Iterator[dict[str, int]]:
    """The worker's memory before the block and its peak during it (every 20 ms)."""
    seen = {"before": rss(pid), "peak": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen["peak"] = max(seen["peak"], rss(pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()
        seen["peak"] = max(seen["peak"], rss(pid))
        seen["after"] = rss(pid)


def csv_file(lines: int, round_: int) -> bytes:
    rows = [
        f"BENCH-{i:07d},Brass desk lamp {i},Warm light for the desk,"
        f"{(i * 7 + round_) % 100000}.{round_ % 100:02d},{(i + round_) % 1000}"
        for i in range(lines)
    ]
    return ("sku,name,description,price,quantity\n" + "\n".join(rows) + "\n").encode()


def report(label: str, seconds: float, memory: dict[str, int], extra: str = "") -> None:
    growth = (memory["peak"] - memory["before"]) / MIB
    print(
        f"| {label} | {seconds:.1f} s | {memory['before'] / MIB:.0f} MiB | "
        f"{memory['peak'] / MIB:.0f} MiB | {growth:.0f} MiB | {extra} |",
        flush=True,
    )


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines of the import")
    parser.add_argument("--export", type=int, default=1_000_000, help="products exported")
    args = parser.parse_args()
    database_url, drop = scratch_database(SERVER_URL, "shopapi_csv")
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": tempfile.mkdtemp(prefix="shopapi-csv-"),
        "NEW_USER_ROLE": "editor",
        "WEB_CONCURRENCY": "1",
        "THREADS": "4",
        "BODY_TIMEOUT": "60",
        "REQUEST_TIMEOUT": "300",
    }
    server = None
    try:
        from shopapi.db import upgrade

        upgrade(database_url)
        server = launch([sys.executable, "-m", "shopapi.serving"], env, wait=60)
        (worker,) = server.workers()
        editor = Account(server.url, "csv_editor")
        token = editor.sign_in()
        assert token is not None
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        url = f"{server.url}/api/products"
        print(f"CSV files on MariaDB through make serve's server (worker pid {worker})\n")
        print("| run | wall time | worker RSS before | peak | growth | result |")
        print("| --- | ---: | ---: | ---: | ---: | --- |", flush=True)
        for round_, label in [(0, "create"), (1, "update")]:
            body = csv_file(args.lines, round_)
            headers = {"Content-Type": "text/csv"}
            with sampled(worker) as memory:
                seconds, r = timed(
                    lambda b=body, h=headers: http.post(
                        f"{url}/import", data=b, headers=h, timeout=600
                    )
                )
            if r.status_code != 200:
                raise RuntimeError(f"import: {r.status_code} {r.text[:500]}")
            label = f"import {args.lines:,} lines ({label}, {len(body) / MIB:.1f} MiB)"
            report(label, seconds, memory, r.text.strip())
        more = args.export - args.lines
        if more > 0:
            started = time.perf_counter()
            subprocess.run(
                [str(Path(sys.executable).parent / "flask"), "--app", "app", "seed-products"]
                + [str(more), "--seed", "1"],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            print(f"\n(seeded {more:,} more products in {time.perf_counter() - started:.0f} s)\n")
            # Access tokens live ten minutes: sign in again after the load.
            token = editor.sign_in()
            assert token is not None
            http.headers["Authorization"] = f"Bearer {token}"

        def export() -> tuple[int, int]:
            lines = size = 0
            with http.get(f"{url}/export.csv", stream=True, timeout=3600) as answer:
                answer.raise_for_status()
                assert "Content-Length" not in answer.headers
                for piece in answer.iter_content(256 * 1024):
                    lines += piece.count(b"\n")
                    size += len(piece)
            return lines, size

        with sampled(worker) as memory:
            seconds, (lines, size) = timed(export)
        rows = lines - 1
        label = f"export {rows:,} products ({size / MIB:.0f} MiB)"
        report(label, seconds, memory, f"{rows / seconds:,.0f} rows/s")
        return 0 if rows == max(args.export, args.lines) else 1
    finally:
        if server is not None:
            server.stop()
        drop()


if __name__ == "__main__":
    raise SystemExit(main())
