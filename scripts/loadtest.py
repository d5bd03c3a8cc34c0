"""`make loadtest`: a benchmark of `make serve` on MariaDB, then a consistency check.

1. Creates a scratch MariaDB database (LOADTEST_MARIADB_URL, default the test server),
   applies the migrations and starts the server as `make serve` does, APP_ENV=production
   and generated secrets (so Argon2 runs at OWASP's cost, as in production).
2. Runs locust headless (scripts/locustfile.py): USERS clients (default 64) for
   DURATION (default 60s), mixing sign-ins, reads, creates, conditional updates, deletes.
3. Prints the figures (requests, rps, p50/p99, failures) and checks the outcome in the
   database: zero 5xx, every acknowledged create present unless its owner deleted it,
   every acknowledged delete gone, each product's version equal to its accepted updates
   (one winner per version), and its history complete and matching what was written.

Options: --users N --duration 60s --keep (keep the scratch database). Exit 1 on a
failed check. A benchmark, not a test: it is not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from harness import ROOT, RunningServer, ServerDidNotStart, free_port, launch, scratch_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent


def start_server(env: dict[str, str], log: Path, port: int) -> RunningServer:
    """Migrations first, then the server, as `make serve` does; returns once it is ready."""
    subprocess.run(
        [str(BIN / "flask"), "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        return launch(
            [str(BIN / "python"), "-m", "shopapi.serving"],
            env,
            log_path=log,
            port=port,
            ready_path="/readyz",
            wait=60,
        )
    except ServerDidNotStart as error:
        raise SystemExit(str(error)) from None


def _stock(conn: Any, journal: list[dict[str, Any]]) -> list[str]:
    """The stock invariants: every quantity is the sum of its movements, no product is held
    beyond its quantity, and every acknowledged movement, commit and release is kept."""
    problems: list[str] = []
    drift = conn.execute(
        text(
            "SELECT p.id, p.quantity, COALESCE(SUM(m.delta), 0) AS total FROM products p "
            "LEFT JOIN stock_movements m ON m.product_id = p.id "
            "GROUP BY p.id, p.quantity HAVING p.quantity <> COALESCE(SUM(m.delta), 0)"
        )
    ).all()
    problems += [
        f"product {r.id}: quantity {r.quantity}, movements add to {r.total}" for r in drift
    ]
    over = conn.execute(
        text(
            "SELECT p.id, p.quantity, SUM(i.quantity) AS held FROM products p "
            "JOIN reservation_items i ON i.product_id = p.id "
            "JOIN reservations r ON r.id = i.reservation_id "
            "WHERE r.status = 'held' AND r.expires_at > CURRENT_TIMESTAMP "
            "GROUP BY p.id, p.quantity HAVING SUM(i.quantity) > p.quantity"
        )
    ).all()
    problems += [f"product {r.id}: {r.held} held of {r.quantity}" for r in over]
    movements = {row.id for row in conn.execute(text("SELECT id FROM stock_movements"))}
    for e in journal:
        if e["op"] == "move" and e["movement"] not in movements:
            problems.append(f"movement {e['movement']} on product {e['id']}: acknowledged, missing")
    status = dict(conn.execute(text("SELECT id, status FROM reservations")).all())
    for e in journal:
        wanted = {"commit": "committed", "release": "released"}.get(e["op"])
        if wanted and status.get(e["id"]) != wanted:
            problems.append(f"reservation {e['id']}: {wanted} acknowledged, {status.get(e['id'])}")
    # The buyers are the only ones who sell: one `sold` movement per item committed.
    sold = conn.execute(text("SELECT COUNT(*) FROM stock_movements WHERE reason = 'sold'"))
    committed = conn.execute(
        text(
            "SELECT COUNT(*) FROM reservation_items i JOIN reservations r "
            "ON r.id = i.reservation_id WHERE r.status = 'committed'"
        )
    )
    sold_count, committed_count = sold.scalar_one(), committed.scalar_one()
    if sold_count != committed_count:
        problems.append(f"{sold_count} sold movements for {committed_count} committed items")
    return problems


def check(database_url: str, journal: list[dict[str, Any]]) -> list[str]:
    """What the clients were told, against what the database holds."""
    problems: list[str] = []
    server_errors = [e for e in journal if e["op"] == "5xx"]
    if server_errors:
        problems.append(f"{len(server_errors)} responses were 5xx")
    engine = create_engine(make_url(database_url))
    with engine.connect() as conn:
        products = {
            row.id: row for row in conn.execute(text("SELECT id, version, quantity FROM products"))
        }
        # Versions made by stock movements of their own or by sales (not by a PUT or PATCH,
        # whose quantity changes are `correction` movements): updates no writer made.
        by_stock: dict[int, set[int]] = defaultdict(set)
        for row in conn.execute(
            text(
                "SELECT product_id, version_after FROM stock_movements "
                "WHERE reason NOT IN ('initial', 'correction')"
            )
        ):
            by_stock[row.product_id].add(row.version_after)
        history: dict[int, list[Any]] = defaultdict(list)
        for row in conn.execute(
            text(
                "SELECT product_id, version, action, changes FROM product_history "
                "ORDER BY product_id, version"
            )
        ):
            history[row.product_id].append(row)
        problems += _stock(conn, journal)
    engine.dispose()

    created = {e["id"]: e for e in journal if e["op"] == "create"}
    deleted = {e["id"]: e for e in journal if e["op"] == "delete"}
    updates: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in journal:
        if e["op"] == "update":
            updates[e["id"]].append(e)

    for product_id in created:
        if product_id in deleted:
            if product_id in products:
                problems.append(f"product {product_id}: acknowledged delete, still there")
        elif product_id not in products:
            problems.append(f"product {product_id}: acknowledged create, missing")
    for product_id, product_history in history.items():
        versions = [h.version for h in product_history]
        accepted = sorted(u["version"] for u in updates[product_id])
        if len(accepted) != len(set(accepted)):
            problems.append(f"product {product_id}: two writers were told they made one version")
        if versions != list(range(1, len(versions) + 1)):
            problems.append(f"product {product_id}: history versions {versions} have gaps")
        actions = [h.action for h in product_history]
        if actions[0] != "create" or "create" in actions[1:]:
            problems.append(f"product {product_id}: history does not start with one create")
        gone = actions[-1] == "delete"
        stocked = len(by_stock[product_id])
        expected_updates = len(versions) - 1 - (1 if gone else 0) - stocked
        if product_id in created and len(accepted) != expected_updates:
            problems.append(
                f"product {product_id}: {len(accepted)} accepted updates, "
                f"{expected_updates} in history"
            )
        by_version = {h.version: h for h in product_history}
        for u in updates[product_id]:
            row = by_version.get(u["version"])
            changes = json.loads(row.changes) if row is not None else {}
            if row is None or row.action != "update" or changes["quantity"][1] != u["quantity"]:
                problems.append(f"product {product_id}: update to v{u['version']} not in history")
        if product_id in deleted and (not gone or versions[-1] != deleted[product_id]["version"]):
            problems.append(f"product {product_id}: acknowledged delete missing from history")
        if gone and product_id in products:
            problems.append(f"product {product_id}: deleted in history, still there")
        elif product_id in products:
            current = products[product_id]
            if current.version != versions[-1]:
                problems.append(
                    f"product {product_id}: version {current.version}, history {versions[-1]}"
                )
            if updates[product_id]:
                last = max(updates[product_id], key=lambda u: u["version"])
                if last["version"] == current.version and last["quantity"] != current.quantity:
                    problems.append(f"product {product_id}: last accepted update lost")
    missing_history = set(products) - set(history)
    if missing_history:
        problems.append(f"{len(missing_history)} products have no history")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--duration", default="60s")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    server_url = os.environ.get(
        "LOADTEST_MARIADB_URL",
        os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
    )
    database_url, drop = scratch_database(server_url, "shopapi_load")
    work = Path(tempfile.mkdtemp(prefix="shopapi-load."))
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(work / "instance"),
        # Production makes new accounts viewers; the load test's clients also write.
        "NEW_USER_ROLE": "editor",
        # Its 64 clients sign in at once: room for them, the bounds on hashing apart
        # (scripts/loginflood.py measures those).
        "HASH_QUEUE": "64",
        "LOGIN_RATE_LIMIT_GLOBAL": "1000000/minute",
    }
    env.pop("REDIS_URL", None)
    base = f"http://127.0.0.1:{port}"
    print(f"loadtest: make serve's server at {base}, database {make_url(database_url).database}")
    server = start_server(env, work / "server.log", port)
    journal_path, prefix = work / "journal.json", work / "locust"
    try:
        locust = subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(ROOT / "scripts" / "locustfile.py"),
                "--headless",
                "--users",
                str(args.users),
                "--spawn-rate",
                str(max(args.users // 4, 1)),
                "--run-time",
                args.duration,
                "--host",
                base,
                "--csv",
                str(prefix),
                "--only-summary",
                "--stop-timeout",
                "10",
                "--exit-code-on-error",
                "0",
            ],
            cwd=ROOT,
            env={**os.environ, "LOADTEST_JOURNAL": str(journal_path)},
            capture_output=True,
            text=True,
        )
    finally:
        server.stop(grace=40)  # graceful, as a deployment stops it
    (work / "locust.log").write_text(locust.stdout + locust.stderr)
    if not journal_path.exists():
        print(locust.stdout[-4000:], locust.stderr[-4000:], sep="\n")
        raise SystemExit("loadtest: locust wrote no journal")

    recorded = json.loads(journal_path.read_text())
    journal, numbers = recorded["journal"], recorded["figures"]
    print(f"\n{'request':<44} {'count':>7} {'rps':>6} {'fail':>5} {'p50 ms':>7} {'p99 ms':>7}")
    for name, row in [*numbers["by_name"].items(), ("all", numbers)]:
        print(
            f"{name:<44} {row['requests']:>7} {row['rps']:>6.1f} {row['failures']:>5} "
            f"{row['p50']:>7.0f} {row['p99']:>7.0f}"
        )
    seconds = max(numbers["seconds"], 1e-9)
    counts = defaultdict(int)
    for entry in journal:
        counts[entry["op"]] += 1
    print(
        f"\nloadtest: {args.users} users for {args.duration}: {numbers['requests']} requests, "
        f"{numbers['rps']:.1f} rps, p50 {numbers['p50']:.0f} ms, p99 {numbers['p99']:.0f} ms, "
        f"{numbers['failures']} failures, {counts['5xx']} 5xx; acknowledged: "
        f"{counts['create']} creates, {counts['update']} conditional updates, "
        f"{counts['delete']} deletes, {counts['move']} stock movements; buyers: "
        f"{counts['reserve']} reservations ({counts['reserve'] / seconds:.1f}/s), "
        f"{counts['commit']} committed, {counts['release']} released"
    )
    problems = check(database_url, journal)
    server_log = (work / "server.log").read_text(errors="replace")
    errors = [line for line in server_log.splitlines() if '"level": "error"' in line]
    if errors:
        problems.append(f"the server logged {len(errors)} errors, e.g. {errors[0][:300]}")
    if numbers["failures"]:
        failures_csv = Path(f"{prefix}_failures.csv").read_text()
        print(f"\nfailures:\n{failures_csv}")
    for problem in problems[:50]:
        print(f"CHECK FAILED: {problem}")
    if args.keep:
        print(f"loadtest: kept {database_url} and {work}")
    else:
        drop()
    print("loadtest: consistency " + ("FAILED" if problems else "OK"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
