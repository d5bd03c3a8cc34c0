"""Request and response shapes of administration."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import OneOf
from marshmallow import ValidationError, validates_schema

from ..audit import events
from ..auth.invites import DEFAULT_LIFETIME, MAX_LIFETIME
from ..auth.schemas import EventOut, username_field
from ..config import ROLES
from ..products.fields import StrictInteger
from ..resources.pages import PageQuery, QueryInteger

_TIME = "%Y-%m-%dT%H:%M:%SZ"


class StrictBoolean(Boolean):
    """A JSON true or false (marshmallow's Boolean also takes "yes", 1, "on", ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if type(value) is not bool:
            raise ValidationError("Must be true or false.")
        return value


def _role(**kwargs: Any) -> String:
    return String(
        validate=OneOf(ROLES), metadata={"description": "viewer, editor or admin"}, **kwargs
    )


class AccountOut(Schema):
    id = Integer()
    username = String()
    role = String(metadata={"description": "viewer, editor or admin"})
    disabled = Boolean()
    totp_confirmed = Boolean(metadata={"description": "Has verified a code of its authenticator"})
    locked = Boolean(metadata={"description": "A password or code limit is exhausted right now"})
    created_at = DateTime(format=_TIME)
    kind = String(metadata={"description": "person, or service (an integration: API keys only)"})


class AccountInPage(AccountOut):
    """An account, in a page of accounts.

    A class of its own: APIFlask documents the paths in order of length, and would register
    the page's nested `AccountOut` once more when it meets it on its own afterwards."""


class AccountPageOut(Schema):
    items = List(Nested(AccountInPage))
    next_cursor = String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last"}
    )


class AccountChangeIn(Schema):
    role = _role()
    disabled = StrictBoolean(metadata={"description": "true ends the account's access at once"})

    @validates_schema
    def something(self, data: dict[str, object], **_kwargs: object) -> None:
        if not data:
            raise ValidationError("Send role, disabled or both.", field_name="_body")


class InviteIn(Schema):
    role = _role(required=True)
    expires_in = StrictInteger(
        minimum=1,
        maximum=MAX_LIFETIME,
        load_default=DEFAULT_LIFETIME,
        metadata={"description": f"Seconds, at most {MAX_LIFETIME} (default {DEFAULT_LIFETIME})"},
    )


class InviteOut(Schema):
    code = String(metadata={"description": "Shown once: give it to the person invited"})
    role = String()
    expires_at = DateTime(format=_TIME)


class LiveInviteOut(Schema):
    """A live invite, as the list shows it: never its code."""

    id = Integer()
    role = String(metadata={"description": "viewer, editor or admin"})
    created_at = DateTime(format=_TIME)
    expires_at = DateTime(format=_TIME)
    created_by = Integer(
        allow_none=True,
        metadata={"description": "The admin who made it; null if made on the command line"},
    )


class InvitePageOut(Schema):
    items = List(Nested(LiveInviteOut))
    next_cursor = String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last"}
    )


class EventQuery(PageQuery):
    user_id = QueryInteger(
        minimum=1, maximum=2**63 - 1, metadata={"description": "Only this account's events"}
    )
    type = String(
        validate=OneOf(events.TYPES), metadata={"description": "Only events of this type"}
    )


class AdminEventOut(EventOut):
    user_id = Integer(metadata={"description": "The account the event is about"})


class AdminEventPageOut(Schema):
    items = List(Nested(AdminEventOut))
    next_cursor = String(allow_none=True)


class ServiceAccountIn(Schema):
    username = username_field()
    role = String(
        required=True,
        validate=OneOf(ROLES[:2], error="A service account is a viewer or an editor."),
        metadata={"description": "viewer or editor (never admin)"},
    )
