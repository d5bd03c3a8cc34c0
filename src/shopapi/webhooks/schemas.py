"""Request and response shapes of webhooks."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from marshmallow import ValidationError, validates_schema

from ..admin.schemas import StrictBoolean
from ..products.fields import Text
from ..resources.pages import PageQuery
from .models import DELIVERED, FAILED, PENDING
from .outbox import EVENT_TYPES

_URL = "Where deliveries are POSTed: http(s), resolving to public addresses only"
_EVENTS = f"The event types to send it, at least one of: {', '.join(EVENT_TYPES)}"


def _url(**kwargs: Any) -> Text:
    return Text(max_length=2048, min_length=1, metadata={"description": _URL}, **kwargs)


def _events(**kwargs: Any) -> Any:
    return List(
        String(validate=OneOf(EVENT_TYPES, error="Not an event type: {input}.")),
        validate=Length(min=1, max=len(EVENT_TYPES) * 2, error="List 1 to 14 event types."),
        metadata={"description": _EVENTS},
        **kwargs,
    )


def _description() -> Text:
    return Text(max_length=255, allow_none=True, metadata={"description": "For people; or null"})


class EndpointIn(Schema):
    url = _url(required=True)
    events = _events(required=True)
    description = _description()


class EndpointChangeIn(Schema):
    url = _url()
    events = _events()
    description = _description()
    enabled = StrictBoolean(metadata={"description": "false: no new deliveries; pending wait"})

    @validates_schema
    def something(self, data: dict[str, object], **_kwargs: object) -> None:
        if not data:
            raise ValidationError("Send url, events, description or enabled.", field_name="_body")


class EndpointOut(Schema):
    id = Integer()
    url = String()
    events = List(String())
    description = String(allow_none=True)
    enabled = Boolean()
    created_at = String(metadata={"format": "date-time"})


class EndpointWithSecretOut(EndpointOut):
    secret = String(
        metadata={"description": "whsec_ + base64: signs deliveries; shown in this answer only"}
    )


class EndpointInPage(EndpointOut):
    """An endpoint, in a page of endpoints (a class of its own, see AccountInPage)."""


class EndpointPageOut(Schema):
    items = List(Nested(EndpointInPage))
    next_cursor = String(allow_none=True)


class DeliveryOut(Schema):
    id = Integer()
    event_id = Integer()
    type = String()
    status = String(metadata={"description": f"{PENDING}, {DELIVERED} or {FAILED}"})
    attempts = Integer()
    last_status_code = Integer(allow_none=True)
    last_error = String(allow_none=True)
    next_attempt_at = String(
        allow_none=True, metadata={"format": "date-time", "description": "Null once it ended"}
    )
    created_at = String(metadata={"format": "date-time"})


class DeliveryInPage(DeliveryOut):
    """A delivery, in a page of deliveries."""


class DeliveryPageOut(Schema):
    items = List(Nested(DeliveryInPage))
    next_cursor = String(allow_none=True)


class DeliveryQuery(PageQuery):
    status = String(
        validate=OneOf((PENDING, DELIVERED, FAILED)),
        metadata={"description": "Only deliveries in this status"},
    )
