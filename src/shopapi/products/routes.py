"""Views of products: parse, call the service, serialise.

`authenticated` sits right under each route, so a request without a valid token is 401
whatever its body, never 422 or 415. Reads check the caller's account in the statement
that reads the products (`checked_read`): one database round trip each. Writes check it
before they start and hand the checked `Account` to the service.
"""

from __future__ import annotations

import json
from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

from .. import db
from ..caller import account, authenticated, checked_read
from ..caller.roles import EDITOR
from ..resources import idempotency, versioned
from ..resources.etags import etag, parse_if_match
from ..resources.reads import Reads
from .listing import LISTING, ListQuery
from .models import PRODUCTS
from .schemas import (
    CreateHeaders,
    ETagHeader,
    HistoryOut,
    IfMatchHeaders,
    LocationHeader,
    PageOut,
    ProductIn,
    ProductOut,
)

# What an API key needs for these views (see caller.scopes).
READ, WRITE = "products:read", "products:write"

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
