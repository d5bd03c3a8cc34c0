"""Views of reservations: parse, call the service, serialise."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

from .. import db
from ..caller import account, authenticated, checked_read, principal
from ..caller.roles import EDITOR
from ..db import utcnow
from ..products.schemas import CreateHeaders
from ..resources import idempotency
from ..resources.pages import keyset_page
from . import reservations
from .schemas import ReservationIn, ReservationOut, ReservationPageOut, ReservationQuery

# Reads are covered by products:read; writes need reservations:write (see caller.scopes).
READ, WRITE = "products:read", "reservations:write"

bp = APIBlueprint("reservations", __name__, url_prefix="/api/reservations", tag="Reservations")
_ONE = {404: "No such reservation visible to this account"}


def _json(body: Any, status: int = 200, **headers: str) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


@bp.post("")
@authenticated(EDITOR, scope=WRITE)
@bp.input(ReservationIn, arg_name="data")
@bp.input(CreateHeaders, location="headers", arg_name="headers")
@bp.output(ReservationOut, status_code=201)
@bp.doc(
    responses={
        409: "Some items are short: `shortages` names each one; nothing is held",
        422: "Invalid input, a product that does not exist, or a reused Idempotency-Key",
    }
)
def make_reservation(data: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Hold stock of every item, or of none, until it is committed, released or expires."""
    caller, session = account(), db.session()
    key = idempotency.request_key("reservations", caller, headers.get("idempotency_key"))

    def make() -> idempotency.Created:
        made = reservations.make(session, caller, data)
        return idempotency.Created(made, f"/api/reservations/{made['id']}")

    created = idempotency.once(session, key, data, make)
    return _json(created.body, 201, Location=created.location)


@bp.get("")
@authenticated(checked_in_read=True, scope=READ)
@bp.input(ReservationQuery, location="query", arg_name="query")
@bp.output(ReservationPageOut)
@bp.doc(responses={422: "Bad limit, cursor or status"})
def list_reservations(query: dict[str, Any]) -> Any:
    """The caller's reservations, newest first; `status` filters them."""
    now = utcnow()
    params = {"me": principal().user_id, "now": now}
    pages = reservations.PAGES[query.get("status")]
    page = keyset_page(checked_read, pages, query, params)
    items = [reservations.as_api(row, now) for row in page.rows]
    return _json({"items": items, "next_cursor": page.next_cursor})


@bp.get("/<id:reservation_id>")
@authenticated(checked_in_read=True, scope=READ)
@bp.output(ReservationOut)
@bp.doc(responses=_ONE)
def get_reservation(reservation_id: int) -> Any:
    """One reservation: its items, and its status as of now."""
    now = utcnow()
    rows = checked_read(reservations.ONE, {"id": reservation_id, "me": principal().user_id})
    if not rows:
        raise reservations.not_found(reservation_id)
    return _json(reservations.as_api(rows[0], now))


@bp.post("/<id:reservation_id>/commit")
@authenticated(EDITOR, scope=WRITE)
@bp.output(ReservationOut)
@bp.doc(responses={**_ONE, 409: "Expired or released: nothing to commit"})
def commit_reservation(reservation_id: int) -> Any:
    """Sell the held items (a `sold` movement each); again: the same answer."""
    return _json(reservations.commit(db.session(), account(), reservation_id))


@bp.delete("/<id:reservation_id>")
@authenticated(EDITOR, scope=WRITE)
@bp.output({}, status_code=204)
@bp.doc(responses={**_ONE, 409: "Committed: its items are sold"})
def release_reservation(reservation_id: int) -> Any:
    """Stop holding the items; released or expired already: 204 too."""
    reservations.release(db.session(), account(), reservation_id)
    return Response(status=204)
