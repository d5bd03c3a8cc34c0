"""Views of products: parse, call the service, serialise.

`authenticated` sits right under each route, so a request without a valid token is 401
whatever its body, never 422 or 415. Reads check the caller's account in the statement
that reads the products (`checked_read`): one database round trip each. Writes check it
before they start and hand the checked `Account` to the service.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from apiflask import APIBlueprint
from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import db
from ..caller import account, authenticated, checked_read
from ..caller.roles import EDITOR
from ..errors import ApiError
from ..openapi import OTHER_BODIES
from ..resources import idempotency, versioned
from ..resources.etags import etag, parse_if_match
from ..resources.reads import Reads
from . import imports
from .csvfile import export_lines
from .listing import LISTING, ExportQuery, ListQuery
from .models import PRODUCTS
from .schemas import (
    CreateHeaders,
    ETagHeader,
    HistoryOut,
    IfMatchHeaders,
    ImportOut,
    ImportQuery,
    LocationHeader,
    PageOut,
    ProductIn,
    ProductOut,
)

# What an API key needs for these views (see caller.scopes).
READ, WRITE = "products:read", "products:write"
# Where a CSV file is imported: the one body that is neither JSON nor limited to 1 MiB.
IMPORT_PATH = "/api/products/import"
# Rows an export reads a statement.
EXPORT_BATCH = 1000
_CSV = {
    "schema": {"type": "string"},
    "example": "sku,name,price,quantity\nLAMP-42,Desk lamp,19.90,5\n",
}
OTHER_BODIES[("/api/products/export.csv", "get")] = {"response": {"text/csv": _CSV}}
OTHER_BODIES[(IMPORT_PATH, "post")] = {
    "request": {
        "required": True,
        "description": "A CSV file whose header names sku (and any of name, description, "
        "price, quantity), UTF-8, up to IMPORT_MAX_BYTES",
        "content": {"text/csv": _CSV},
    }
}

bp = APIBlueprint("products", __name__, url_prefix="/api/products", tag="Products")

reads = Reads(PRODUCTS)
_ONE = {404: "No such product"}
_WRITE = {
    **_ONE,
    409: "Another product has this SKU; reservations hold more than the new quantity (or, "
    "for a delete, any of it); or too many concurrent changes",
    412: "If-Match does not match the version",
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _product(product: dict[str, Any], status: int = 200, **headers: str) -> Response:
    return _json(product, status, {"ETag": etag(product["version"]), **headers})


@bp.post("")
@authenticated(EDITOR, scope=WRITE)
@bp.input(ProductIn, arg_name="data")
@bp.input(CreateHeaders, location="headers", arg_name="headers")
@bp.output(ProductOut, status_code=201, headers=LocationHeader)
@bp.doc(
    responses={
        409: "Another product has this SKU (SKUs ignore case)",
        422: "Invalid input, or a reused Idempotency-Key",
    }
)
def create_product(data: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Create a product; an Idempotency-Key makes retries safe."""
    client_key = headers.get("idempotency_key")
    created = idempotency.create_once(db.session(), PRODUCTS, account(), data, client_key)
    return _product(created.body, 201, Location=created.location)


@bp.get("")
@authenticated(checked_in_read=True, scope=READ)
@bp.input(ListQuery, location="query", arg_name="query")
@bp.output(PageOut)
@bp.doc(responses={422: "A bad parameter, or a cursor of another query"})
def list_products(query: dict[str, Any]) -> Any:
    """Products, filtered and sorted, a page at a time (follow next_cursor)."""
    items, page = LISTING.page(checked_read, query)
    cursor = json.dumps(page.next_cursor)
    # The items are already JSON, written by the database in API form.
    body = f'{{"items":{items},"next_cursor":{cursor}}}'
    return Response(body, mimetype="application/json")


@bp.get("/<id:product_id>")
@authenticated(checked_in_read=True, scope=READ)
@bp.output(ProductOut, headers=ETagHeader)
@bp.doc(responses=_ONE)
def get_product(product_id: int) -> Any:
    """One product; its ETag is its version."""
    return _product(reads.one(checked_read, product_id))


@bp.put("/<id:product_id>")
@authenticated(EDITOR, scope=WRITE)
@bp.input(ProductIn, arg_name="data")
@bp.input(IfMatchHeaders, location="headers", arg_name="headers")
@bp.output(ProductOut, headers=ETagHeader)
@bp.doc(responses=_WRITE)
def replace_product(product_id: int, data: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Replace every field (an omitted description becomes null)."""
    return _change(product_id, data, headers)


@bp.patch("/<id:product_id>")
@authenticated(EDITOR, scope=WRITE)
@bp.input(ProductIn(partial=True), arg_name="data")
@bp.input(IfMatchHeaders, location="headers", arg_name="headers")
@bp.output(ProductOut, headers=ETagHeader)
@bp.doc(responses=_WRITE)
def update_product(product_id: int, data: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Change only the fields sent."""
    return _change(product_id, data, headers)


def _change(product_id: int, data: dict[str, Any], headers: dict[str, Any]) -> Response:
    if_match = parse_if_match(headers.get("if_match"))
    product = versioned.change(
        db.session(), PRODUCTS, account(), product_id, data, if_match=if_match
    )
    return _product(product)


@bp.delete("/<id:product_id>")
@authenticated(EDITOR, scope=WRITE)
@bp.input(IfMatchHeaders, location="headers", arg_name="headers")
@bp.output({}, status_code=204)
@bp.doc(responses=_WRITE)
def delete_product(product_id: int, headers: dict[str, Any]) -> Any:
    """Delete a product; its history stays readable."""
    if_match = parse_if_match(headers.get("if_match"))
    versioned.remove(db.session(), PRODUCTS, account(), product_id, if_match=if_match)
    return Response(status=204)


@bp.get("/<id:product_id>/history")
@authenticated(checked_in_read=True, scope=READ)
@bp.output(HistoryOut)
@bp.doc(responses={404: "No product ever had this id"})
def product_history(product_id: int) -> Any:
    """Every change of a product, oldest first, also after it was deleted."""
    return _json({"items": reads.history(checked_read, product_id)})


@bp.get("/export.csv")
@authenticated(scope=READ)
@bp.input(ExportQuery, location="query", arg_name="query")
@bp.doc(responses={200: "The CSV file", 422: "A bad parameter"})
def export_products(query: dict[str, Any]) -> Any:
    """Every product the filters match, in their sort, as a CSV file (streamed)."""
    run = db.read_apart()
    # The first batch is read before the answer starts, so a failing database is a 503.
    first = LISTING.first_batch(run, query, EXPORT_BATCH)
    lines = export_lines(LISTING.batches(run, query, EXPORT_BATCH, first))
    # A generator and no Content-Length: the server sends each batch as it is made.
    response = Response(lines, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="products.csv"'
    return response


@bp.post("/import")
@db.not_retried
@authenticated(EDITOR, scope=WRITE)
@bp.input(ImportQuery, location="query", arg_name="query")
@bp.input(CreateHeaders, location="headers", arg_name="headers")
@bp.output(ImportOut)
@bp.doc(
    responses={
        409: "Concurrent changes conflicted with the import; nothing changed",
        413: "The file is larger than IMPORT_MAX_BYTES",
        415: "The body is not text/csv",
        422: "Bad lines (every one listed), a file that is not UTF-8 or has no sku header, "
        "or a reused Idempotency-Key",
    }
)
def import_products(query: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Create or update products by SKU from a CSV file, all lines or none."""
    raw = _csv_body()
    caller, dry_run = account(), query.get("dry_run", False)
    key = idempotency.request_key(PRODUCTS.name, caller, headers.get("idempotency_key"))
    fingerprint = {"csv": hashlib.sha256(raw).hexdigest()}

    def make() -> idempotency.Created:
        return idempotency.Created(imports.run(db.session(), caller, raw, dry_run=dry_run), "")

    return _json(idempotency.once(db.session(), key, fingerprint, make).body)


def _csv_body() -> bytes:
    if request.mimetype != "text/csv":
        raise ApiError(415, "The request body must be a CSV file: Content-Type: text/csv.")
    limit = current_app.extensions["settings"].import_max_bytes
    too_large = ApiError(413, f"The file is larger than {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    request.max_content_length = limit
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
