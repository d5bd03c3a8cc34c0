"""OpenAPI document: security scheme and the problem+json shape of every error."""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask

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
            "type": "object",
            "description": "Validation failures: field name to messages",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
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
_NO_DATABASE = {"/healthz", "/openapi.json"}


def register(app: APIFlask) -> None:
    app.config["SECURITY_SCHEMES"] = {
        "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }

    @app.spec_processor
    def add_problem_responses(spec: Any) -> Any:
        spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                wanted = set()
                if path not in _NO_DATABASE:
                    wanted.add(503)
                if "requestBody" in operation:
                    wanted |= {400, 413, 415, 422}
                if operation.get("security"):
                    wanted.add(401)
                if path.startswith("/auth/") and method == "post" and path != "/auth/logout":
                    wanted.add(429)
                for status in wanted:
                    responses.setdefault(str(status), {"description": _GENERIC[status]})
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response["content"] = {"application/problem+json": {"schema": _PROBLEM_REF}}
        return spec
