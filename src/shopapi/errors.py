"""Every error response is built here, as RFC 9457 problem+json."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, g, has_request_context, json
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from . import metrics
from .db import ConflictNotRetried, ConflictPersisted
from .security import HASHING_RETRY_AFTER, HashingBusy

PROBLEM_TYPE = "about:blank"
# The answer to a write that a constraint refused, by the constraint's name (see
# `db.constraints`). A constraint not named here is a bug: 500, logged.
CONFLICTS: Mapping[str, tuple[int, str]] = {
    "uq_users_username": (409, "This username is taken."),
    "uq_users_username_normalized": (409, "This username is taken."),
    "uq_passkeys_credential_id": (409, "This passkey is already registered."),
    "uq_products_sku_key": (409, "Another product has this SKU (SKUs ignore case)."),
}
# The request field a conflict is about, for the answer's `errors`.
CONFLICT_FIELDS: Mapping[str, str] = {"uq_products_sku_key": "sku"}
# A 422 lists the errors of this many fields at most, and says how many more there were: a
# body of 75,000 unknown fields must not be answered with an error for each.
MAX_LISTED_FIELDS = 50
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client caused or must know about; becomes a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors
        self.headers = dict(headers or {})
        # Members of the problem body beyond RFC 9457's (a 409's "available", say).
        self.extra = dict(extra or {})
        self.keep_work = False

    def keeping_work(self) -> ApiError:
        """This refusal is an outcome to record: the request's unit of work commits what it
        wrote before the error is answered (e.g. a session ended for a reused token)."""
        self.keep_work = True
        return self


def validation_error(errors: Mapping[str, list[str]]) -> ApiError:
    return ApiError(422, "The request has invalid fields.", errors=errors)


def unauthorized(detail: str, error: str = "invalid_token") -> ApiError:
    """401 with the RFC 6750 challenge."""
    challenge = f'Bearer realm="api", error="{error}"' if error else 'Bearer realm="api"'
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        **(extra or {}),
        "type": PROBLEM_TYPE,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["detail"], body["errors"] = _at_most_listed(detail, errors)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def unlisted_fields(count: int) -> None:
    """Fields of this request's body refused without being validated (past the first
    unknown ones, see `jsonbody`): the 422's detail counts them."""
    g.unlisted_fields = count


def _at_most_listed(detail: str, errors: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The first MAX_LISTED_FIELDS fields' errors (the declared fields come first), and a
    detail that says how many more fields had errors."""
    unlisted = g.get("unlisted_fields", 0) if has_request_context() else 0
    more = len(errors) - MAX_LISTED_FIELDS + unlisted
    if more <= 0:
        return detail, errors
    listed = dict(itertools.islice(errors.items(), MAX_LISTED_FIELDS))
    fields = "field has" if more == 1 else "fields have"
    return f"{detail} {more} more {fields} errors, not listed.", listed


def _flatten(messages: Any) -> dict[str, list[str]]:
    """Turn webargs/marshmallow messages ({location: {field: [...]}}) into {field: [...]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                # A list's items by index, as `items[0].quantity`.
                name = f"[{key}]" if isinstance(key, int) else f".{key}" if prefix else str(key)
                walk(f"{prefix}{name}", inner)
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_body", []).extend(value)
        else:
            flat.setdefault(prefix or "_body", []).append(str(value))

    if isinstance(messages, Mapping) and len(messages) == 1:
        ((location, inner),) = messages.items()
        if location in {"json", "query", "querystring", "headers", "view_args", "path"}:
            messages = inner
    walk("", messages)
    return flat


def _from_apiflask(error: HTTPError) -> Response:
    headers = {k: str(v) for k, v in dict(error.headers or {}).items() if k != "Content-Type"}
    if error.status_code == 422 and error.detail:
        return problem(
            422, "The request has invalid fields.", errors=_flatten(error.detail), headers=headers
        )
    detail = error.message if isinstance(error.message, str) else ""
    phrase = HTTPStatus(error.status_code).phrase
    return problem(error.status_code, _describe(error.status_code, detail, phrase), headers=headers)


_DETAILS = {
    400: "The request body is not valid JSON or not a JSON object.",
    404: "No resource at this address.",
    405: "This method is not allowed on this address.",
    413: "The request body is larger than 1 MiB.",
    415: "The request body must be sent as Content-Type: application/json.",
    429: "Too many requests; wait before trying again.",
}


def _describe(status: int, detail: str, phrase: str) -> str:
    if detail and detail != phrase:
        return detail
    return _DETAILS.get(status, phrase)


def register_error_handlers(app: APIFlask) -> None:
    @app.error_processor
    def apiflask_error(error: HTTPError) -> Response:
        return _from_apiflask(error)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return problem(
            error.status,
            error.detail,
            title=error.title,
            errors=error.errors,
            headers=error.headers,
            extra=error.extra,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return problem(status, _DETAILS.get(status, HTTPStatus(status).phrase), headers=headers)

    @app.errorhandler(IntegrityError)
    def constraint_violated(error: IntegrityError) -> Response:
        from .db.constraints import violated

        _rollback()
        name = violated(error)
        answer = CONFLICTS.get(name) if name else None
        if answer is not None:
            status, detail = answer
            about = CONFLICT_FIELDS.get(name or "")
            return problem(status, detail, errors={about: [detail]} if about else None)
        log.error("unexpected constraint violation", extra={"constraint": name})
        return problem(500, "The server failed to handle this request.")

    @app.errorhandler(ConflictPersisted)
    def conflict_persisted(error: ConflictPersisted) -> Response:
        return _unavailable("database_conflict", BUSY, retry_after=1)

    @app.errorhandler(ConflictNotRetried)
    def conflict_not_retried(error: ConflictNotRetried) -> Response:
        return problem(
            409, "Concurrent changes conflicted with this request; nothing changed. Try again."
        )

    @app.errorhandler(PoolTimeoutError)
    def no_connection_free(error: PoolTimeoutError) -> Response:
        log.warning("no database connection free in time")
        return _unavailable("database_busy", BUSY, retry_after=5)

    @app.errorhandler(HashingBusy)
    def hashing_busy(error: HashingBusy) -> Response:
        log.warning("password hashing busy: %s", error)
        return _unavailable(
            "hashing_busy",
            "Too many sign-ins are being checked right now; try again shortly.",
            retry_after=HASHING_RETRY_AFTER,
        )

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return _unavailable(
            "database", "The database is unavailable; try again shortly.", retry_after=5
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        _rollback()
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return database_unavailable(error)  # type: ignore[arg-type]
        log.exception("unhandled error")
        return problem(500, "The server failed to handle this request.")


BUSY = "The service is too busy right now; try again shortly."


def _unavailable(reason: str, detail: str, *, retry_after: int) -> Response:
    """A 503 the client may retry after `retry_after` seconds: the request's unit of work
    rolled back, and the refusal counted under `reason` in the metrics."""
    _rollback()
    metrics.unavailable(reason)
    return problem(503, detail, headers={"Retry-After": str(retry_after)})


def _rollback() -> None:
    from .db import close_request_connections

    close_request_connections()
