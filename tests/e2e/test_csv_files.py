"""The catalogue's CSV files through the production server, as `make serve` runs it: an
import larger than the 1 MiB that other bodies may have, and its export streamed back
whole without a declared length."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    HttpAuth,
    LiveServer,
    loopback_address,
    migrated_sqlite,
    server_env,
    settings_for,
    start_production,
    stop_production,
)

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]
COUNT = 4_000


@pytest.fixture
def server(secrets_env: dict[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    url = migrated_sqlite(tmp_path / "csv.sqlite3")
    env = server_env(settings_for(url, tmp_path / "instance", secrets_env), secrets_env)
    server = start_production(env, tmp_path / "server.log")
    yield server
    stop_production(server)


def test_a_large_import_is_taken_and_its_export_streams_back_complete(
    server: LiveServer,
) -> None:
    auth = HttpAuth(server.url, loopback_address())
    headers = {"Authorization": f"Bearer {auth.sign_in()[1]}"}  # the first account: admin
    words = "word " * 50
    lines = [f"S-{i:05d},Lamp {i},{words.strip()},{i % 100}.25,{i}" for i in range(COUNT)]
    body = ("sku,name,description,price,quantity\n" + "\n".join(lines) + "\n").encode()
    assert len(body) > 1024 * 1024
    sent = {**headers, "Content-Type": "text/csv"}
    r = auth.http.post(f"{server.url}/api/products/import", data=body, headers=sent, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": COUNT, "updated": 0, "unchanged": 0, "errors": []}

    url = f"{server.url}/api/products/export.csv"
    with auth.http.get(url, headers=headers, stream=True, timeout=120) as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert "Content-Length" not in answer.headers
        assert answer.headers.get("Transfer-Encoding") == "chunked"
        text = b"".join(answer.iter_content(64 * 1024)).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["sku"] for r in rows] == [f"S-{i:05d}" for i in range(COUNT)]
    assert rows[-1]["quantity"] == str(COUNT - 1) and rows[-1]["price"] == "99.25"
