"""The benchmark's yardsticks, served like the service: a bare Flask app, no middleware.

`GET /healthz` is the floor of any request. `GET /floor/products/<id>` and
`GET /floor/products?limit=50` are the floor of a database read: the statements the
service's reads run (`Reads(PRODUCTS)`: the database writes the JSON), on the same engine
settings and driver (DATABASE_URL, a read-only pool as the service's reads use), with no
account check, no middleware, no logging and no metrics. What the service spends beyond
them is its own cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from shopapi.config import Settings
from shopapi.db import make_engine
from shopapi.products.models import PRODUCTS
from shopapi.resources.reads import Reads
from shopapi.serving import body_first

settings = Settings.read()
app = Flask(__name__)
app.extensions["settings"] = settings  # the page's next cursor is signed as the service signs it
rsgi = body_first(app, settings)  # what granian serves, as for the service
# The service's reader pool, as the service makes it: DB_POOL_SIZE connections kept per
# worker (SQLAlchemy's default of 5, below THREADS, would open and close a connection for
# the requests beyond it, a cost the service does not pay).
engine = (
    make_engine(settings.database_url, read_only=True, pool_size=settings.db_pool_size)
    if settings.database_url
    else None
)
reads = Reads(PRODUCTS)


def run(statement: Any, params: Mapping[str, Any]) -> list[Any]:
    assert engine is not None, "the floor of a read needs DATABASE_URL"  # noqa: S101
    with engine.connect() as conn:
        return list(conn.execute(statement, dict(params)).all())


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/floor/products/<int:product_id>")
def one_product(product_id: int) -> Response:
    return jsonify(reads.one(run, product_id))


@app.get("/floor/products")
def product_page() -> Response:
    items, page = reads.page(run, {"limit": int(request.args.get("limit", "10"))})
    body = f'{{"items":{items},"next_cursor":{json.dumps(page.next_cursor)}}}'
    return Response(body, mimetype="application/json")
