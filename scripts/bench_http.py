"""What `make bench` drives the servers with: wrk scripts, and sign-ins with real TOTP codes."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import requests

PASSWORD = "bench-" + secrets.token_urlsafe(12)


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
function init(args) version = nil end
function request()
  local body = '{{"quantity": ' .. math.random(0, 1000) .. '}}'
  -- The first request of a connection does not know the version yet (an earlier run may
  -- have moved it on): "*" matches any, and the answer's ETag is used from then on.
  local match = version and ('"' .. version .. '"') or "*"
  local headers = {{["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
                   ["If-Match"] = match}}
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
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "requests": count,
        "rps": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


class Account:
    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
        r = requests.post(
            f"{base}/auth/register", json={"username": name, "password": PASSWORD}, timeout=30
        )
        r.raise_for_status()
        self.totp = pyotp.TOTP(r.json()["totp"]["secret"])
        self.recovery_codes: list[str] = r.json()["recovery_codes"]
        self.last_step = -1

    def api_key(self, token: str, scopes: list[str]) -> str:
        """A new API key of this account (the proof spends a recovery code, not a step)."""
        r = requests.post(
            f"{self.base}/auth/api-keys",
            json={
                "name": "bench",
                "scopes": scopes,
                "password": PASSWORD,
                "recovery_code": self.recovery_codes.pop(),
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["key"])

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
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "non_2xx": 0,
        "socket_errors": None,
        "count": len(latencies),
    }
