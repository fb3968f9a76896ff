"""Request body checks, answered like the platform's request validator (research §5.7):

    Bad Request : Validation failed.
    [ERROR][REQUEST][POST /teledossiers/v1/folders @body]
    Object has missing required properties (["applicant"])

(on one line after the first).
Each function raises `Refusal` with that 400; `where` is the JSON pointer of the object checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiguilleur.fakes.hubee import responses
from aiguilleur.fakes.hubee.model import OrgId
from aiguilleur.fakes.hubee.state import NewAttachment, Refusal

_SIRET = re.compile(r"[0-9]{14}")
_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


def _fail(method: str, path: str, detail: str) -> Refusal:
    return Refusal(responses.validation_error(method, path, "body", detail))


def _type_name(value: Any) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), "unknown")


def _mismatch(pointer: str, value: Any, allowed: str) -> str:
    prefix = f"[Path '{pointer}'] " if pointer else ""
    kind = _type_name(value)
    return (
        f'{prefix}Instance type ({kind}) does not match any allowed primitive type (allowed: ["{allowed}"])'
    )


def json_body(method: str, path: str, content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(method, path, f"Unable to parse JSON - {exc}") from exc
    if not isinstance(body, dict):
        raise _fail(
            method,
            path,
            _mismatch("", body, "object"),
        )
    return body


def require(method: str, path: str, obj: dict[str, Any], names: Sequence[str], where: str = "") -> None:
    missing = sorted(n for n in names if n not in obj)
    if missing:
        listed = json.dumps(missing, separators=(",", ":"))
        prefix = f"[Path '{where}'] " if where else ""
        raise _fail(method, path, f"{prefix}Object has missing required properties ({listed})")


def _string(
    method: str, path: str, obj: dict[str, Any], name: str, max_length: int, where: str, *, required: bool
) -> str | None:
    value = obj.get(name)
    pointer = f"{where}/{name}"
    if value is None:
        if required:
            require(method, path, obj, (name,), where)
            raise _fail(
                method,
                path,
                _mismatch(pointer, None, "string"),
            )
        return None
    if not isinstance(value, str):
        raise _fail(
            method,
            path,
            _mismatch(pointer, value, "string"),
        )
    if len(value) > max_length:
        raise _fail(
            method,
            path,
            f"[Path '{pointer}'] String \"{value[:80]}\" is too long "
            f"(length: {len(value)}, maximum allowed: {max_length})",
        )
    return value


def required_string(
    method: str, path: str, obj: dict[str, Any], name: str, max_length: int, where: str = ""
) -> str:
    value = _string(method, path, obj, name, max_length, where, required=True)
    assert value is not None
    return value


def optional_string(
    method: str, path: str, obj: dict[str, Any], name: str, max_length: int, where: str = ""
) -> str | None:
    return _string(method, path, obj, name, max_length, where, required=False)


def optional_date_time(method: str, path: str, obj: dict[str, Any], name: str) -> datetime | None:
    value = optional_string(method, path, obj, name, 64)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(
            method,
            path,
            f"[Path '/{name}'] String \"{value}\" is invalid against requested date format(s) "
            "[yyyy-MM-dd'T'HH:mm:ssZ]",
        ) from exc


def required_bool(method: str, path: str, obj: dict[str, Any], name: str, where: str = "") -> bool:
    require(method, path, obj, (name,), where)
    value = obj[name]
    if not isinstance(value, bool):
        raise _fail(
            method,
            path,
            _mismatch(f"{where}/{name}", value, "boolean"),
        )
    return value


def organization(method: str, path: str, value: Any, where: str) -> OrgId:
    """An OrganizationIdentifier: type ≤20, companyRegister 14 digits, branchCode ≤10."""
    obj: dict[str, Any] = value if isinstance(value, dict) else {}
    require(method, path, obj, ("type", "companyRegister", "branchCode"), where)
    siret = required_string(method, path, obj, "companyRegister", 14, where)
    if not _SIRET.fullmatch(siret):
        raise _fail(
            method,
            path,
            f"[Path '{where}/companyRegister'] "
            f'ECMA 262 regex "[0-9]{{14}}" does not match input string "{siret}"',
        )
    return OrgId(
        required_string(method, path, obj, "type", 20, where),
        siret,
        required_string(method, path, obj, "branchCode", 10, where),
    )


def attachment_declarations(
    method: str, path: str, obj: dict[str, Any], name: str, *, with_recipients: bool
) -> tuple[NewAttachment, ...]:
    """Attachments declared before their binaries (Folder.attachments, Event.attachments)."""
    items = obj.get(name) or []
    if not isinstance(items, list):
        raise _fail(
            method,
            path,
            _mismatch(f"/{name}", items, "array"),
        )
    declared = []
    for i, item in enumerate(items):
        where = f"/{name}/{i}"
        entry: dict[str, Any] = item if isinstance(item, dict) else {}
        needed = ["fileName", "type", "size", "mimeType"] + (["recipients"] if with_recipients else [])
        require(method, path, entry, needed, where)
        size = entry["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _fail(
                method,
                path,
                _mismatch(f"{where}/size", size, "integer"),
            )
        recipients = entry.get("recipients") or []
        if with_recipients and (
            not isinstance(recipients, list)
            or not recipients
            or not all(isinstance(r, str) for r in recipients)
        ):
            raise _fail(
                method,
                path,
                f"[Path '{where}/recipients'] "
                "Array is too short: must have at least 1 elements but instance has 0 elements",
            )
        declared.append(
            NewAttachment(
                required_string(method, path, entry, "fileName", 255, where),
                required_string(method, path, entry, "type", 100, where),
                size,
                required_string(method, path, entry, "mimeType", 255, where),
                tuple(recipients),
            )
        )
    return tuple(declared)
