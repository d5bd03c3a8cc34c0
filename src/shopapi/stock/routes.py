"""Views of stock movements: parse, call the service, serialise."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import jsonify

from .. import db
from ..caller import account, authenticated, checked_read
from ..caller.roles import EDITOR
from ..products.models import PRODUCTS
from ..products.schemas import CreateHeaders
from ..resources import idempotency
from ..resources.pages import PageQuery, keyset_page
from . import movements
from .schemas import MovementIn, MovementOut, MovementPageOut

bp = APIBlueprint("stock", __name__, url_prefix="/api/products", tag="Stock")


@bp.post("/<id:product_id>/stock-movements")
@authenticated(EDITOR, scope="stock:write")
@bp.input(MovementIn, arg_name="data")
@bp.input(CreateHeaders, location="headers", arg_name="headers")
@bp.output(MovementOut, status_code=201)
@bp.doc(
    responses={
        404: "No such product",
        409: "It does not fit: below what reservations hold (or 0), or above 2147483647; "
        "the problem carries `available`",
        412: "The quantity is not `expected_quantity`",
        422: "Invalid input, or a reused Idempotency-Key",
    }
)
def add_movement(product_id: int, data: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Change a product's quantity by `delta`; an Idempotency-Key makes retries safe."""
    caller, session = account(), db.session()
    key = idempotency.request_key("stock-movements", caller, headers.get("idempotency_key"))
    values = {name: data.get(name) for name in ("delta", "reason", "note", "expected_quantity")}

    def make() -> idempotency.Created:
        return idempotency.Created(movements.move(session, caller, product_id, data), "")

    created = idempotency.once(session, key, values, make)
    response = jsonify(created.body)
    response.status_code = 201
    return response


@bp.get("/<id:product_id>/stock-movements")
@authenticated(checked_in_read=True, scope="products:read")
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(MovementPageOut)
@bp.doc(responses={404: "No product ever had this id", 422: "Bad limit or cursor"})
def list_movements(product_id: int, query: dict[str, Any]) -> Any:
    """A product's stock movements, newest first, also after it was deleted."""
    page = keyset_page(checked_read, movements.PAGE, query, {"product_id": product_id})
    # Movements are never deleted and every product has its initial one: none on a first
    # page means no product ever had this id.
    if not page.rows and "cursor" not in query:
        raise PRODUCTS.not_found(product_id)
    items = [movements.as_api(row, product_id) for row in page.rows]
    return jsonify({"items": items, "next_cursor": page.next_cursor})
