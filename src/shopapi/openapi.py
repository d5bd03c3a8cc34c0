"""OpenAPI document: security scheme and the problem+json shape of every error."""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask

from .routing import ID_SCHEMA

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "description": "Validation failures: field name to messages; for a CSV import, "
            "every bad line: its number (the header is line 1), the column and the message",
            "anyOf": [
                {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["line", "field", "message"],
                        "properties": {
                            "line": {"type": "integer", "minimum": 1},
                            "field": {},
                            "message": {"type": "string"},
                        },
                    },
                },
            ],
        },
    },
}
BEARER = "BearerAuth"
API_KEY = "ApiKeyAuth"
# Bodies that are not JSON (a CSV file), which schemas cannot describe, by (path, method):
# "request" is the operation's requestBody, "response" the content of its 200 answer.
OTHER_BODIES: dict[tuple[str, str], dict[str, Any]] = {}
REQUIRED_ROLE = "x-required-role"
REQUIRED_SCOPE = "x-api-key-scope"
LOWEST_ROLE = "viewer"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_GENERIC = {
    400: "The body is not valid JSON or not a JSON object",
    401: "Missing or bad access token",
    413: "The body is larger than 1 MiB",
    415: "The body is not application/json",
    422: "Invalid input",
    429: "Too many requests",
    503: "The database is unavailable",
}
_NO_DATABASE = {"/healthz", "/openapi.json", "/metrics", "/.well-known/jwks.json"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Times are ISO 8601 UTC in whole seconds; apispec leaves `format`/`pattern` as null for
# a DateTime field with a custom format, which is not a valid OpenAPI schema.
_UTC_SECONDS = {"format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"}


def _portable_schemas(node: Any) -> None:
    """Make every schema valid OpenAPI that clients' tools read as the server means it."""
    if isinstance(node, dict):
        if "format" in node and node["format"] is None:
            node.update(_UTC_SECONDS)
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern.endswith("\\Z") and not pattern.endswith("\\\\Z"):
            # Python's end-of-string `\Z` is a literal "Z" in ECMA-262 regular expressions
            # (which OpenAPI patterns are); `$` without multiline means the same there.
            node["pattern"] = pattern[:-2] + "$"
        for value in node.values():
            _portable_schemas(value)
    elif isinstance(node, list):
        for value in node:
            _portable_schemas(value)


def document_security(view: Any, role: str, scope: str | None = None) -> None:
    """Show in the OpenAPI document that `view` needs a bearer token (401 otherwise) of an
    account with `role` (`x-required-role`; 403 where a lower role exists), and whether an
    API key with `scope` is taken too (`x-api-key-scope`; "*" for every key).

    APIFlask keeps a view's OpenAPI details in its `_spec` (what `@bp.doc` writes), and
    `functools.wraps` carries them from the view to its wrappers.
    """
    spec = view.__dict__.setdefault("_spec", {})
    spec["security"] = BEARER if scope is None else [BEARER, API_KEY]
    extensions = {**(spec.get("extensions") or {}), REQUIRED_ROLE: role}
    if scope is not None:
        extensions[REQUIRED_SCOPE] = scope
    spec["extensions"] = extensions


def register(app: APIFlask) -> None:
    app.config["SECURITY_SCHEMES"] = {
        BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        API_KEY: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "shk_...",
            "description": "An API key (`Authorization: Bearer shk_...`), where its scope allows",
        },
    }

    @app.spec_processor
    def add_problem_responses(spec: Any) -> Any:
        spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        _portable_schemas(spec)
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                other = OTHER_BODIES.get((path, method), {})
                if "request" in other:
                    operation["requestBody"] = other["request"]
                if "response" in other:
                    responses.setdefault("200", {"description": "OK"})["content"] = other[
                        "response"
                    ]
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path" and parameter["name"].endswith("_id"):
                        parameter["schema"] = dict(ID_SCHEMA)  # see routing.IdConverter
                wanted = set()
                if path not in _NO_DATABASE:
                    wanted.add(503)
                if "requestBody" in operation:
                    # A body that is not JSON (a CSV file) cannot be bad JSON (400).
                    wanted |= {413, 415, 422} if "request" in other else {400, 413, 415, 422}
                if any(p.get("in") in {"query", "header"} for p in operation.get("parameters", [])):
                    wanted.add(422)  # query strings and headers are validated too
                if operation.get("security"):
                    wanted.add(401)
                role = operation.get(REQUIRED_ROLE)
                if role and role != LOWEST_ROLE:
                    responses.setdefault("403", {"description": f"Needs the {role} role"})
                    operation["description"] = (
                        f"{operation.get('description', '')}\n\nNeeds the **{role}** role."
                    ).strip()
                elif role:
                    operation["description"] = (
                        f"{operation.get('description', '')}\n\nOpen to every role."
                    ).strip()
                scope = operation.get(REQUIRED_SCOPE)
                if operation.get("security") and scope is None:
                    operation["description"] = (
                        f"{operation.get('description', '')}\n\nNot open to API keys."
                    ).strip()
                    responses.setdefault("403", {"description": "Not open to API keys"})
                elif scope is not None and scope != "*":
                    operation["description"] = (
                        f"{operation.get('description', '')}\n\nAPI keys need the "
                        f"**{scope}** scope."
                    ).strip()
                    responses.setdefault("403", {"description": f"Needs the {scope} scope"})
                if path.startswith("/auth/") and method == "post" and path != "/auth/logout":
                    wanted.add(429)
                for status in wanted:
                    responses.setdefault(str(status), {"description": _GENERIC[status]})
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response["content"] = {"application/problem+json": {"schema": _PROBLEM_REF}}
                    if status in {"429", "503"}:
                        response.setdefault("headers", {}).update(_RETRY_AFTER)
        return spec
