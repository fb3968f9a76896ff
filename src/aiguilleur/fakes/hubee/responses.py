"""The answers the platform gives, by layer: WSO2 gateway faults, OAuth2 token errors, HubEE errors.

Bodies follow research/hubee.md §5.7: the API's ``{"errors":[{"code","message"}]}`` (with the request
validator's ``Bad Request : Validation failed.`` text), the gateway's ``{"fault":{code,message,
description}}`` for tokens and throttling, RFC 6749 ``{"error","error_description"}`` at the token
endpoint.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

JSON_TYPE = "application/json"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return httpx.Response(status, content=content, headers={"Content-Type": JSON_TYPE, **(headers or {})})


def no_content() -> httpx.Response:
    return httpx.Response(204)


def hubee_error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return json_response(status, {"errors": [{"code": status, "message": message}]}, headers)


def validation_error(method: str, path: str, location: str, detail: str) -> httpx.Response:
    """The request validator's 400, e.g. ``[ERROR][REQUEST][GET /teledossiers/v1/… @query.maxResult] …``."""
    message = f"Bad Request : Validation failed.\n[ERROR][REQUEST][{method} {path} @{location}] {detail}"
    return hubee_error(400, message)


def bad_request(detail: str = "") -> httpx.Response:
    return hubee_error(400, f"Bad Request : {detail}" if detail else "Bad request")


def forbidden() -> httpx.Response:
    return hubee_error(403, "Unauthorized user")


def not_found(what: str) -> httpx.Response:
    return hubee_error(404, what)


def method_not_allowed(allowed: list[str]) -> httpx.Response:
    return hubee_error(405, "Method not allowed", {"Allow": ", ".join(allowed)})


_REASONS = {500: "Internal server", 502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout"}


def injected_failure(status: int, retry_after_s: int | None) -> httpx.Response:
    """A failure from `HubeeFaults.fail_next`: 429 as WSO2 throttling, others in the API's envelope
    (the OpenAPI documents no 500 body, only the description "Internal server")."""
    if status == 429:
        return throttled(retry_after_s)
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return hubee_error(status, _REASONS.get(status, "Error"), headers)


def gateway_fault(
    status: int, code: int, message: str, description: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return json_response(
        status, {"fault": {"code": code, "message": message, "description": description}}, headers
    )


def invalid_credentials(*, missing: bool = False, expired: bool = False) -> httpx.Response:
    """WSO2's 401 (900901 invalid or expired token, 900902 no token), the "Erreur 900901" of DINUM's guide."""
    if missing:
        code, message = 900902, "Missing Credentials"
        description = (
            "Invalid Credentials. Make sure your API invocation call has a header: "
            "'Authorization : Bearer ACCESS_TOKEN'"
        )
        error_description = "The access token is missing"
    else:
        code, message = 900901, "Invalid Credentials"
        description = "Invalid Credentials. Make sure you have provided the correct security credentials"
        error_description = "The access token expired" if expired else "The access token is invalid"
    challenge = (
        f'OAuth2 realm="WSO2 API Manager", error="invalid_token", error_description="{error_description}"'
    )
    return gateway_fault(401, code, message, description, {"WWW-Authenticate": challenge})


def throttled(retry_after_s: int | None) -> httpx.Response:
    """WSO2's throttling answer (900802), with Retry-After when the fault sets one."""
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return gateway_fault(
        429,
        900802,
        "Message throttled out",
        "You have exceeded your quota",
        headers,
    )


def oauth_error(status: int, error: str, description: str) -> httpx.Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="OAuth2"'
    return json_response(status, {"error": error, "error_description": description}, headers)
