"""Kubernetes `Status` error bodies and the exception that carries them.

Purpose: every failure the simulator answers (NotFound, Forbidden, Conflict, Invalid,
TooManyRequests, InternalError, ServiceUnavailable, Unauthorized, BadRequest, Gone) is built here
with the exact field layout and message wording kube-apiserver uses.
Boundary: pure data; the HTTP layer turns an `ApiError` into a response.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API failure with its HTTP code, `Status` body and extra headers."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A `Status` object exactly as the apiserver serialises it (empty fields omitted)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


def _details(kind: str, name: str | None, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        404, "NotFound", f'{qualified} "{name}" not found', _details(plural, name, group)
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(plural, name, group)
    )


def conflict(plural: str, group: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    message = (
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(plural, name, group))


def forbidden(
    user: str,
    verb: str,
    plural: str,
    group: str,
    *,
    namespace: str | None,
    name: str | None,
    subresource: str = "",
) -> ApiError:
    """RBAC denial with kube-apiserver's wording."""
    qualified = f"{plural}.{group}" if group else plural
    target = f'{qualified} "{name}"' if name else qualified
    resource = f"{plural}/{subresource}" if subresource else plural
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}"{scope}'
    )
    return ApiError(403, "Forbidden", message, _details(plural, name, group))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(kind: str, group: str, name: str, field: str, detail: str) -> ApiError:
    qualified = f"{kind}.{group}" if group else kind
    message = f'{qualified} "{name}" is invalid: {field}: {detail}'
    causes = [{"reason": "FieldValueInvalid", "message": detail, "field": field}]
    details = {**_details(kind, name, group), "causes": causes}
    return ApiError(422, "Invalid", message, details)


def unsupported_media(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types "
        f"include: application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml, application/strategic-merge-patch+json "
        f'(got "{content_type}")',
    )


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        {"retryAfterSeconds": retry_after},
        {"Retry-After": str(retry_after)},
    )


def internal_error(cause: str) -> ApiError:
    return ApiError(
        500, "InternalError", f"Internal error occurred: {cause}", {"causes": [{"message": cause}]}
    )


def service_unavailable(retry_after: int | None = None) -> ApiError:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    details = {"retryAfterSeconds": retry_after} if retry_after else None
    return ApiError(
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request",
        details,
        headers,
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def route_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")
