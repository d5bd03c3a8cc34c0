"""Views of webhooks (admins only): parse, call the service, serialise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apiflask import APIBlueprint
from flask import Response, current_app

from .. import db
from ..caller import account, authenticated
from ..caller.roles import ADMIN
from ..config import Settings
from ..resources.pages import PageQuery, keyset_page
from . import service
from .schemas import (
    DeliveryOut,
    DeliveryPageOut,
    DeliveryQuery,
    EndpointChangeIn,
    EndpointIn,
    EndpointOut,
    EndpointPageOut,
    EndpointWithSecretOut,
)

bp = APIBlueprint("webhooks", __name__, url_prefix="/admin/webhooks", tag="Webhooks")
_ONE = {404: "No such webhook endpoint"}


def _settings() -> Settings:
    settings: Settings = current_app.extensions["settings"]
    return settings


def _read(statement: Any, params: Mapping[str, Any]) -> Sequence[Any]:
    return db.reader().execute(statement, params).all()


@bp.post("")
@authenticated(ADMIN)
@bp.input(EndpointIn, arg_name="data")
@bp.output(EndpointWithSecretOut, status_code=201)
@bp.doc(responses={422: "Invalid input, or a URL that may not be sent to"})
def create_endpoint(data: dict[str, Any]) -> Any:
    """Add an endpoint; the answer shows its signing secret, once."""
    return service.create(db.session(), _settings(), account().id, data)


@bp.get("")
@authenticated(ADMIN)
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(EndpointPageOut)
@bp.doc(responses={422: "Bad limit or cursor"})
def list_endpoints(query: dict[str, Any]) -> Any:
    """Endpoints ordered by id, a page at a time (follow next_cursor); never a secret."""
    found = keyset_page(_read, service.ENDPOINTS_PAGE, query)
    items = [service.endpoint_api(row) for row in found.rows]
    return {"items": items, "next_cursor": found.next_cursor}


@bp.get("/<id:endpoint_id>")
@authenticated(ADMIN)
@bp.output(EndpointOut)
@bp.doc(responses=_ONE)
def get_endpoint(endpoint_id: int) -> Any:
    """One endpoint; never its secret."""
    return service.get(db.session(), endpoint_id)


@bp.patch("/<id:endpoint_id>")
@authenticated(ADMIN)
@bp.input(EndpointChangeIn, arg_name="data")
@bp.output(EndpointOut)
@bp.doc(responses={**_ONE, 422: "Invalid input, or a URL that may not be sent to"})
def change_endpoint(endpoint_id: int, data: dict[str, Any]) -> Any:
    """Change an endpoint's url, events, description, or enable or disable it."""
    return service.change(db.session(), _settings(), account().id, endpoint_id, data)


@bp.delete("/<id:endpoint_id>")
@authenticated(ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses=_ONE)
def delete_endpoint(endpoint_id: int) -> Any:
    """Delete an endpoint and its deliveries; nothing more is sent to it."""
    service.remove(db.session(), account().id, endpoint_id)
    return Response(status=204)


@bp.post("/<id:endpoint_id>/rotate-secret")
@authenticated(ADMIN)
@bp.output(EndpointWithSecretOut)
@bp.doc(responses=_ONE)
def rotate_secret(endpoint_id: int) -> Any:
    """A new signing secret, shown once; for 24 hours deliveries carry both signatures."""
    return service.rotate(db.session(), _settings(), account().id, endpoint_id)


@bp.get("/<id:endpoint_id>/deliveries")
@authenticated(ADMIN)
@bp.input(DeliveryQuery, location="query", arg_name="query")
@bp.output(DeliveryPageOut)
@bp.doc(responses={**_ONE, 422: "Bad limit, cursor or status"})
def list_deliveries(endpoint_id: int, query: dict[str, Any]) -> Any:
    """An endpoint's deliveries, newest first; filter by status."""
    service.exists(db.reader(), endpoint_id)
    params: dict[str, Any] = {"endpoint_id": endpoint_id}
    page = service.DELIVERIES_PAGE
    if "status" in query:
        page, params["status"] = service.DELIVERIES_OF_STATUS_PAGE, query["status"]
    found = keyset_page(_read, page, query, params)
    items = [service.delivery_api(row) for row in found.rows]
    return {"items": items, "next_cursor": found.next_cursor}


@bp.post("/<id:endpoint_id>/deliveries/<id:delivery_id>/retry")
@authenticated(ADMIN)
@bp.output(DeliveryOut, status_code=202)
@bp.doc(responses={404: "No such endpoint, or not a delivery of it"})
def retry_delivery(endpoint_id: int, delivery_id: int) -> Any:
    """Attempt the delivery again soon (also one that ended)."""
    found = service.retry(db.session(), endpoint_id, delivery_id)
    from .worker import wake

    db.when_committed(wake)
    return found
