"""`make bench`'s catalogue run: the product list's query shapes at a million products.

Creates a scratch MariaDB database, migrates it, and loads `--products N` products
(1,000,000 by default) with their SKUs and searched words in bulk (LOAD DATA, secondary
indexes dropped during the load and built after it). It then starts the service
(`python app.py`), signs in once, and from one client measures every query shape of
`GET /api/products`: each sort in both directions, each filter alone, ten representative
`q` values, each as the first page and as a page 1,000 pages deep (50 products a page; a
search with fewer matches goes as deep as it can, and says how deep). It prints p50 and
p99 per shape, and the EXPLAIN of any shape whose p99 is over 100 ms. The database is
dropped at the end, unless `--keep` says otherwise; `--reuse NAME` measures a database an
earlier `--keep` run left (it prints the name), skipping the two minutes of seeding.

    .venv/bin/python scripts/bench_catalogue.py --products 1000000 --samples 50
    .venv/bin/python scripts/bench_catalogue.py --keep              # prints the name
    .venv/bin/python scripts/bench_catalogue.py --reuse shopapi_catalogue_0123456789
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import requests
from bench_http import Account
from cryptography.fernet import Fernet
from harness import ROOT, launch, scratch_database
from sqlalchemy import make_url

SERVER_URL = os.environ.get("BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
PAGE = 50
DEEP = 1_000  # pages
TARGET_MS = 100.0
# Words of names and descriptions: common ones, and a model number that few products share.
ADJECTIVES = ["small", "large", "brass", "oak", "linen", "steel", "warm", "cold", "round", "tall"]
ADJECTIVES += ["über", "café", "rustic", "modern", "classic", "compact", "heavy", "light"]
NOUNS = ["lamp", "desk", "chair", "mug", "cable", "shelf", "pen", "clock", "rug", "fan"]
NOUNS += ["table", "kettle", "stool", "vase", "frame", "basket", "mirror", "bench", "sofa"]
FILLER = ["about", "the", "for", "with", "and", "made", "from", "finish", "set", "of", "two"]
QUERIES = [
    "lamp",  # common: one name in twenty
    "LAM",  # a prefix, in capitals
    "cafe",  # accents folded: finds "café"
    "brass lamp",  # two words
    "the",  # a stopword elsewhere
    "rustic chair",  # two common words that meet in one product in ~380
    "m3133",  # rare: one model number, about 100 products
    "SKU-0500000",  # a SKU, whole, in another case
    "sofa mirror kettle",  # three words that rarely meet
    "zzzyx",  # matches nothing
]


def tsv(value: Any) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def generate(count: int, folder: Path) -> tuple[Path, Path]:
    """The products and their words, as LOAD DATA files, in id order."""
    from shopapi.products.models import PRODUCTS

    search = PRODUCTS.search
    assert search is not None

    rng = random.Random(1)  # noqa: S311 - test data
    start = datetime(2026, 1, 1)
    products, tokens = folder / "products.tsv", folder / "tokens.tsv"
    with products.open("w", encoding="utf-8") as p, tokens.open("w", encoding="utf-8") as t:
        for i in range(1, count + 1):
            sku = f"sku-{i:07d}"
            name = f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS)} {i}"
            description = (
                f"{rng.choice(FILLER)} {rng.choice(ADJECTIVES)} {rng.choice(FILLER)} "
                f"{rng.choice(NOUNS)} m{rng.randrange(10_000)} {rng.choice(FILLER)}"
            )
            price = f"{rng.randrange(0, 100_000_00) / 100:.2f}"
            quantity = 0 if rng.random() < 0.1 else rng.randrange(1, 1000)
            moment = start + timedelta(seconds=rng.randrange(0, 300 * 86_400))
            row = [i, sku, name, description, price, quantity, 1, moment, moment, sku.lower()]
            p.write("\t".join(tsv(v) for v in row) + "\n")
            values = {"sku": sku, "name": name, "description": description}
            for token in sorted(search.tokens(values)):
                t.write(f"{i}\t{token}\n")
    return products, tokens


SECONDARY = {
    "products": {
        "uq_products_sku_key": "UNIQUE INDEX uq_products_sku_key (sku_key)",
        "ix_products_name": "INDEX ix_products_name (name, id)",
        "ix_products_price": "INDEX ix_products_price (price, id)",
        "ix_products_quantity": "INDEX ix_products_quantity (quantity, id)",
        "ix_products_updated_at": "INDEX ix_products_updated_at (updated_at, id)",
    },
    "product_tokens": {
        "ix_product_tokens_token": "INDEX ix_product_tokens_token (token, product_id)",
    },
}


def load(database_url: str, count: int) -> float:
    url = make_url(database_url)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shopapi-catalogue-") as folder:
        products, tokens = generate(count, Path(folder))
        print(f"  generated {count:,} products in {time.monotonic() - started:.0f} s", flush=True)
        conn = pymysql.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password or "",
            database=url.database,
            local_infile=True,
            charset="utf8mb4",
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET unique_checks = 0, foreign_key_checks = 0")
                for table, indexes in SECONDARY.items():
                    drops = ", ".join(f"DROP INDEX {name}" for name in indexes)
                    cursor.execute(f"ALTER TABLE {table} {drops}")
                columns = "id, sku, name, description, price, quantity, version, created_at, "
                columns += "updated_at, sku_key"
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{products}' INTO TABLE products "
                    f"CHARACTER SET utf8mb4 ({columns})"
                )
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{tokens}' INTO TABLE product_tokens "
                    "CHARACTER SET utf8mb4 (product_id, token)"
                )
                print(f"  loaded in {time.monotonic() - started:.0f} s", flush=True)
                for table, indexes in SECONDARY.items():
                    adds = ", ".join(f"ADD {definition}" for definition in indexes.values())
                    cursor.execute(f"ALTER TABLE {table} {adds}")
                cursor.execute("ANALYZE TABLE products, product_tokens")
            conn.commit()
        finally:
            conn.close()
    return time.monotonic() - started


def shapes() -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[str, dict[str, str]]] = []
    for sort in ("id", "name", "price", "quantity", "updated_at"):
        for direction in ("", "-"):
            found.append((f"sort={direction}{sort}", {"sort": direction + sort}))
    found += [
        ("min_price=90000", {"min_price": "90000"}),
        ("max_price=100", {"max_price": "100"}),
        ("min_price=10&max_price=20", {"min_price": "10", "max_price": "20"}),
        ("in_stock=true", {"in_stock": "true"}),
        ("in_stock=false", {"in_stock": "false"}),
        ("updated_since=2026-10-01", {"updated_since": "2026-10-01T00:00:00Z"}),
    ]
    found += [(f"q={q}", {"q": q}) for q in QUERIES]
    return found


def deep_cursor(http: requests.Session, base: str, query: dict[str, str]) -> tuple[str, str]:
    """The cursor after DEEP pages of matches (walking 200 at a time), or the deepest one,
    and how deep it is. A page of words that seldom meet may hold fewer rows than asked
    for: depth counts the products the pages gave, and says how many requests walked it
    when that is not what full pages would take."""
    cursor, walked, requests_made = None, 0, 0
    target = DEEP * PAGE
    while walked < target:
        size = min(200, target - walked)
        params = {**query, "limit": str(size), **({"cursor": cursor} if cursor else {})}
        page = http.get(base, params=params, timeout=60).json()
        if page["next_cursor"] is None:
            break
        cursor, walked = page["next_cursor"], walked + len(page["items"])
        requests_made += 1
    depth = f"{walked // PAGE:,} deep"
    if requests_made > -(-walked // 200):
        depth += f" ({requests_made} requests of 200)"
    return cursor or "", depth


def timed(http: requests.Session, base: str, params: dict[str, str], samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        r = http.get(base, params=params, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{params}: {r.status_code} {r.text[:300]}")
    return times


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def explain(env: dict[str, str], query: dict[str, str]) -> str:
    """EXPLAIN of the statement the service runs for `query` (without the account check)."""
    os.environ.update(env)
    from shopapi import create_app, db
    from shopapi.products.listing import LISTING, ListQuery

    app = create_app()
    with app.test_request_context():
        loaded = ListQuery().load(query)
        statement, params, _ = LISTING.prepare(loaded)
        with db.engine().connect() as conn:
            compiled = statement.compile(dialect=conn.dialect)
            sql = str(compiled)
            bound = {**compiled.params, **params}
            rows = conn.exec_driver_sql("EXPLAIN " + sql, bound).all()
    return "\n".join("    " + " | ".join(str(v) for v in row) for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50, help="requests per shape and depth")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--reuse", metavar="NAME", help="measure a kept database, unseeded")
    parser.add_argument("--only", metavar="TEXT", help="only the shapes whose label has TEXT")
    args = parser.parse_args()
    if args.reuse:
        database_url = make_url(SERVER_URL).set(database=args.reuse).render_as_string(False)

        def drop() -> None:
            pass
    else:
        database_url, drop = scratch_database(SERVER_URL, "shopapi_catalogue")
    env = {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOTP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": tempfile.mkdtemp(prefix="shopapi-catalogue-"),
        "NEW_USER_ROLE": "editor",
        "API_KEY_RATE_LIMIT": "100000000/minute",
    }
    server = None
    try:
        from shopapi.db import upgrade

        upgrade(database_url)
        if args.reuse:
            print(f"catalogue: the products of {args.reuse} on MariaDB", flush=True)
        else:
            print(f"catalogue: {args.products:,} products on MariaDB", flush=True)
            seconds = load(database_url, args.products)
            print(f"  seeded and indexed in {seconds:.0f} s", flush=True)
        if args.keep:
            print(f"  kept: --reuse {make_url(database_url).database}", flush=True)
        server = launch([sys.executable, str(ROOT / "app.py")], {**os.environ, **env})
        reader = Account(server.url, f"catalogue_reader_{secrets.token_hex(4)}")
        token = reader.sign_in()
        assert token is not None
        key = reader.api_key(token, ["products:read"])
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        base = f"{server.url}/api/products"
        results = []
        print("\n| shape | page | p50 ms | p99 ms | matches on page |", flush=True)
        print("| --- | --- | ---: | ---: | ---: |")
        for label, query in shapes():
            if args.only and args.only not in label:
                continue
            first = {**query, "limit": str(PAGE)}
            cursor, depth = deep_cursor(http, base, query)
            runs = [("first", first)]
            if cursor:
                runs.append((depth, {**first, "cursor": cursor}))
            for where, params in runs:
                times = timed(http, base, params, args.samples)
                items = len(http.get(base, params=params, timeout=60).json()["items"])
                row = (label, where, statistics.median(times), p99(times), items)
                results.append((row, query, params))
                line = f"| `{label}` | {where} | {row[2]:.1f} | {row[3]:.1f} | {items} |"
                print(line, flush=True)
        slow = [(row, params) for row, _, params in results if row[3] > TARGET_MS]
        print(f"\n{len(slow)} shapes over {TARGET_MS:.0f} ms at p99")
        for row, params in slow:
            print(f"\nEXPLAIN {row[0]} ({row[1]}):\n{explain(env, params)}")
        return 0
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            drop()


if __name__ == "__main__":
    raise SystemExit(main())
