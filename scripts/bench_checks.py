"""What two checks on hostile input cost: prints figures, asserts nothing.

- A login body of 964 KB with 75,000 unknown fields (the largest a client can send under
  the 1 MiB limit): the time to its 422 and the size of that answer.
- The production check of JWT_SECRET_KEY: the time to judge a key of each usual form, the
  longest key judged in full, and a keyboard walk.

Run: .venv/bin/python scripts/bench_checks.py
"""

from __future__ import annotations

import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from shopapi import create_app  # noqa: E402
from shopapi.config import Settings  # noqa: E402
from shopapi.db import upgrade  # noqa: E402
from shopapi.keystrength import MAX_JUDGED_CHARS, key_is_random  # noqa: E402


def median_ms(run: Callable[[], object], times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


def many_fields() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        upgrade(url)
        env = {
            "APP_ENV": "test",
            "INSTANCE_PATH": folder,
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        client = create_app(Settings.from_env(env, database_url=url)).test_client()
        fields = {f"f{i}": 1 for i in range(75_000)}
        data = json.dumps({"username": "someone", "password": "x", **fields})
        sizes = []

        def post() -> None:
            r = client.post("/auth/login", data=data, content_type="application/json")
            assert r.status_code == 422, r.status_code
            sizes.append(len(r.data))

        ms = median_ms(post, 9)
        print(f"422 for {len(data) // 1024} KB, 75,000 unknown fields: {ms:.0f} ms (median of 9)")
        print(f"  answer: {sizes[0]} bytes")


def key_checks() -> None:
    forms = {
        "token_urlsafe(48)": lambda: secrets.token_urlsafe(48),
        "token_hex(32)": lambda: secrets.token_hex(32),
        f"token_urlsafe({MAX_JUDGED_CHARS})": lambda: secrets.token_urlsafe(MAX_JUDGED_CHARS),
    }
    for name, make in forms.items():
        keys = [make() for _ in range(50)]
        ms = median_ms(lambda keys=keys: [key_is_random(k) for k in keys], 5) / len(keys)
        print(f"judging a {name} key ({len(keys[0])} chars): {ms:.2f} ms")
    walk = "qwertyuiopasdfghjklzxcvbnm1234567890!@#$"
    print(f"keyboard walk judged random: {key_is_random(walk)}")


if __name__ == "__main__":
    many_fields()
    key_checks()
