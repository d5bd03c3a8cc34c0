"""`make bench`: the hot paths against the framework's floor (`GET /healthz`), side by side.

Starts the production server (gunicorn, gunicorn.conf.py) on a scratch MariaDB database,
seeds products, signs in, and drives wrk for a fixed time per endpoint. Prints requests/s,
p50 and p99 latency and each rate as a ratio of the floor measured in the same run, plus
each worker's resident memory; writes the same figures as JSON. The scratch database is
dropped at the end.

Settings (environment): BENCH_ROWS (10000), BENCH_DURATION (seconds per endpoint, 10),
BENCH_CONNECTIONS (16), BENCH_MARIADB_URL (mysql+pymysql://root@127.0.0.1:3306/),
BENCH_OUT (bench-results.json).

`make profile` (BENCH_PROFILE=profile.svg) instead samples the workers with py-spy while wrk
drives the authenticated page of 50 products (BENCH_PROFILE_TARGET=one: one product),
writes a flame graph and prints the functions where the samples were.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyotp
import requests
from cryptography.fernet import Fernet
from support import free_port, scratch_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SERVER_URL = os.environ.get("BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
OUT = Path(os.environ.get("BENCH_OUT", "bench-results.json"))
PROFILE = os.environ.get("BENCH_PROFILE")
# What `make profile` drives: "page" (the page of 50) or "one" (one product).
PROFILE_TARGET = os.environ.get("BENCH_PROFILE_TARGET", "page")
PASSWORD = "bench-" + secrets.token_urlsafe(12)
NOISE = 0.15


# --- wrk ----------------------------------------------------------------------------


def lua_headers(headers: dict[str, str]) -> str:
    return "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())


def lua_get(token: str, path: str) -> str:
    return lua_headers({"Authorization": f"Bearer {token}"}) + f'wrk.path = "{path}"\n'


def lua_post(token: str) -> str:
    body = json.dumps({"name": "Bench lamp", "price": "19.99", "quantity": 3})
    return (
        lua_headers({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        + f'wrk.method = "POST"\nwrk.path = "/api/products"\nwrk.body = \'{body}\'\n'
    )


def lua_patch(token: str, first_id: int) -> str:
    """One connection per wrk thread, each patching its own product with the ETag it got."""
    return f"""
local token = "{token}"
local counter = 0
local threads = {{}}
function setup(thread)
  thread:set("pid", {first_id} + counter)
  counter = counter + 1
end
function init(args) version = "1" end
function request()
  local body = '{{"quantity": ' .. math.random(0, 1000) .. '}}'
  local headers = {{["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
                   ["If-Match"] = '"' .. version .. '"'}}
  return wrk.format("PATCH", "/api/products/" .. pid, headers, body)
end
function response(status, headers, body)
  local etag = headers["ETag"] or headers["etag"]
  if etag then version = string.match(etag, "%d+") end
end
"""


def run_wrk(url: str, script: str, threads: int, connections: int, seconds: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        path = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                path,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(path)
    return parse_wrk(out)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


# --- the service ----------------------------------------------------------------------


class Service:
    def __init__(self) -> None:
        self.database_url, self.drop_database = scratch_database(SERVER_URL, "shopapi_bench")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.jwt_key = secrets.token_urlsafe(48)
        self.instance = tempfile.mkdtemp(prefix="shopapi-bench-")
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "DATABASE_URL": self.database_url,
            "JWT_SECRET_KEY": self.jwt_key,
            "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "INSTANCE_PATH": self.instance,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # The per-address limits would stop a load generator on one address.
            "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
            "REGISTER_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
            "MAX_REQUESTS": "0",  # no worker restarts in the middle of a measurement
        }
        self.process: subprocess.Popen[bytes] | None = None

    def flask(self, *args: str) -> None:
        subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env, check=True
        )

    def start(self) -> None:
        self.flask("db", "upgrade")
        started = time.monotonic()
        self.flask("seed-products", str(ROWS), "--seed", "1")
        self.seed_seconds = time.monotonic() - started
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "app:app"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.drop_database()

    def worker_rss_mib(self) -> list[float]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        sizes = []
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status").read_text()
            kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            sizes.append(round(kib / 1024, 1))
        return sizes


class Account:
    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
        r = requests.post(
            f"{base}/auth/register", json={"username": name, "password": PASSWORD}, timeout=30
        )
        r.raise_for_status()
        self.totp = pyotp.TOTP(r.json()["totp"]["secret"])
        self.last_step = -1

    def sign_in(self, session: requests.Session | None = None) -> str | None:
        """Log in and verify; None when this account has used up the steps it may use now."""
        http = session or requests
        step = max(int(time.time()) // 30, self.last_step + 1)
        if step > int(time.time()) // 30 + 1:
            return None
        self.last_step = step
        login = http.post(
            f"{self.base}/auth/login",
            json={"username": self.name, "password": PASSWORD},
            timeout=30,
        )
        login.raise_for_status()
        verify = http.post(
            f"{self.base}/auth/verify",
            json={"mfa_token": login.json()["mfa_token"], "otp": self.totp.at(step * 30)},
            timeout=30,
        )
        verify.raise_for_status()
        return str(verify.json()["access_token"])


def sign_in_load(accounts: list[Account], seconds: float, threads: int) -> dict[str, Any]:
    """Full sign-ins (login + verify) from `threads` clients for `seconds`."""
    lock = threading.Lock()
    pool = list(accounts)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        http = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if not pool:
                    return
                account = pool.pop()
            started = time.perf_counter()
            if account.sign_in(http) is not None:
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as executor:
        for future in [executor.submit(client) for _ in range(threads)]:
            future.result()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "non_2xx": 0,
        "socket_errors": None,
        "count": len(latencies),
    }


def main() -> int:
    service = Service()
    results: dict[str, Any] = {}
    print(f"seeding {ROWS} products and starting gunicorn ...", flush=True)
    try:
        service.start()
        print(f"seeded in {service.seed_seconds:.1f} s", flush=True)
        if PROFILE:
            profile(service, Path(PROFILE))
            return 0
        results = measure(service)
    finally:
        service.stop()
    report(results)
    return 0


def profile(service: Service, out: Path) -> None:
    """Sample every worker with py-spy while wrk drives the page of 50 products (or one
    product, with BENCH_PROFILE_TARGET=one)."""
    account = Account(service.url, "bench_profiler")
    token = account.sign_in()
    assert token is not None and service.process is not None
    path = "/api/products?limit=50"
    if PROFILE_TARGET == "one":
        first = requests.get(
            f"{service.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        path = f"/api/products/{first['items'][0]['id']}"
    raw = out.with_suffix(".txt")
    spies = [
        subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--subprocesses",
                "--pid",
                str(service.process.pid),
                "--duration",
                str(DURATION),
                "--format",
                fmt,
                "--output",
                str(path),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fmt, path in (("flamegraph", out), ("raw", raw))
    ]
    time.sleep(1)
    result = run_wrk(service.url, lua_get(token, path), 2, CONNECTIONS, DURATION)
    for spy in spies:
        spy.wait(timeout=DURATION + 30)
    print(f"GET {path} under the profiler: {result['rps']:.1f} req/s")
    leaves: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if "site-packages" in f or "shopapi" in f]
        if frames:
            # Attribute each sample to the innermost frame of the service or a library.
            leaves[frames[-1]] = leaves.get(frames[-1], 0) + int(count)
            total += int(count)
    print(f"\nwhere the samples were (innermost library or service frame, {total} samples):")
    for frame, count in sorted(leaves.items(), key=lambda kv: -kv[1])[:25]:
        print(f"{count / total:6.1%}  {frame}")
    print(f"\nflame graph: {out}")


def measure(service: Service) -> dict[str, Any]:
    from shopapi.products.tokens import make_cursor

    url = service.url
    account = Account(url, "bench_reader")
    token = account.sign_in()
    assert token is not None
    first = requests.get(
        f"{url}/api/products?limit=1", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    first_id = first["items"][0]["id"]
    last_id = first_id + ROWS - 1
    deep = make_cursor(last_id - 60, service.jwt_key)
    wrk: Callable[[str, int, int], dict[str, Any]] = lambda script, t, c: run_wrk(  # noqa: E731
        url, script, t, c, DURATION
    )
    endpoints: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("floor: GET /healthz", lambda: wrk('wrk.path = "/healthz"\n', 2, CONNECTIONS)),
        (
            "GET /api/products?limit=50",
            lambda: wrk(lua_get(token, "/api/products?limit=50"), 2, CONNECTIONS),
        ),
        (
            f"GET /api/products?limit=50 (deep: after id {last_id - 60})",
            lambda: wrk(lua_get(token, f"/api/products?limit=50&cursor={deep}"), 2, CONNECTIONS),
        ),
        (
            "GET /api/products/{id}",
            lambda: wrk(lua_get(token, f"/api/products/{first_id + ROWS // 2}"), 2, CONNECTIONS),
        ),
        ("POST /api/products", lambda: wrk(lua_post(token), 2, CONNECTIONS)),
        ("PATCH /api/products/{id} with If-Match", lambda: wrk(lua_patch(token, first_id), 8, 8)),
    ]
    results: dict[str, Any] = {}
    for name, run in endpoints:
        print(f"  {name} ...", flush=True)
        results[name] = run()

    print("  registering accounts for the sign-in runs ...", flush=True)
    with ThreadPoolExecutor(4) as executor:
        accounts = list(executor.map(lambda i: Account(url, f"bench_{i}"), range(400)))
    print("  sign-in (login + verify) ...", flush=True)
    results["sign-in (login + verify)"] = sign_in_load(accounts[:200], DURATION, 8)

    print("  GET /api/products/{id} during a burst of sign-ins ...", flush=True)
    burst = threading.Thread(target=sign_in_load, args=(accounts[200:], DURATION, 8))
    burst.start()
    results["GET /api/products/{id} during sign-ins"] = wrk(
        lua_get(token, f"/api/products/{first_id + 1}"), 2, CONNECTIONS
    )
    burst.join()
    results["floor again: GET /healthz"] = wrk('wrk.path = "/healthz"\n', 2, CONNECTIONS)
    results["_memory_mib_per_worker"] = service.worker_rss_mib()
    return results


def report(results: dict[str, Any]) -> None:
    memory = results.pop("_memory_mib_per_worker", [])
    floor = results["floor: GET /healthz"]["rps"]
    floor_end = results["floor again: GET /healthz"]["rps"]
    print()
    print(f"{'endpoint':58} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x floor':>8} {'non-2xx':>8}")
    for name, r in results.items():
        r["ratio_to_floor"] = round(r["rps"] / floor, 3)
        print(
            f"{name:58} {r['rps']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['ratio_to_floor']:8.3f} {r['non_2xx']:8d}"
        )
    quiet = results["GET /api/products/{id}"]["p99_ms"]
    busy = results["GET /api/products/{id} during sign-ins"]["p99_ms"]
    drift = abs(floor_end - floor) / floor
    print(f"\nread p99 during sign-ins: {busy:.2f} ms = {busy / quiet:.2f}x its quiet value")
    print(f"resident memory per worker (MiB): {memory}")
    print(f"floor at start {floor:.1f} req/s, at end {floor_end:.1f} req/s ({drift:.0%} apart)")
    if drift > NOISE:
        print(
            "WARNING: the floor moved by more than 15%: the machine is noisy, "
            "the ratios are unreliable"
        )
    summary = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "rows": ROWS,
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "endpoints": results,
        "memory_mib_per_worker": memory,
        "read_p99_burst_ratio": round(busy / quiet, 2),
        "floor_drift": round(drift, 3),
        "noisy": drift > NOISE,
    }
    OUT.write_text(json.dumps(summary, indent=2))
    print(f"figures written to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
