"""A small checker of HTTP answers against the official HubEE OpenAPI 3.0 files.

It finds the operation of a request (method + path template under ``x-wso2-basePath``), requires the
status code to be documented, and checks a JSON body against the response schema: ``$ref``, ``allOf``,
types, ``nullable``, ``required`` (read-only fields included: these are answers), ``maxLength``,
``minItems``, ``enum``, ``pattern``, the ``uuid`` and ``date-time`` formats, and no property the schema
does not name (so a misspelt field is caught) unless the caller allows it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

OPENAPI_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "hubee" / "openapi"
FOLDER_API = OPENAPI_DIR / "api_folder_v1.2.7.yaml"


class OpenApi:
    def __init__(self, path: Path = FOLDER_API) -> None:
        self.doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.base: str = self.doc["x-wso2-basePath"]
        self._templates = [
            (re.compile(re.sub(r"\{\w+\}", "[^/]+", template) + "$"), template)
            for template in self.doc["paths"]
        ]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.doc
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        relative = path.removeprefix(self.base)
        for pattern, template in self._templates:
            if pattern.match(relative):
                operations = self.doc["paths"][template]
                if method.lower() not in operations:
                    raise AssertionError(f"{method} {template}: no such operation in the OpenAPI")
                return template, operations[method.lower()]
        raise AssertionError(f"{path}: no path of the OpenAPI matches")

    def documented_response(self, method: str, path: str, status: int) -> dict[str, Any]:
        template, op = self.operation(method, path)
        responses = op["responses"]
        key = str(status)
        if key not in responses:
            raise AssertionError(
                f"{method} {template}: status {status} is not documented ({sorted(responses)})"
            )
        return dict(responses[key])

    # --- schema ----------------------------------------------------------------------------------------

    def _properties(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = self.resolve(schema)
        props = dict(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            props.update(self._properties(part))
        return props

    def errors(
        self,
        schema: dict[str, Any],
        value: Any,
        pointer: str = "",
        extra: frozenset[str] = frozenset(),
        *,
        closed: bool = True,
    ) -> list[str]:
        """`closed`: report properties the schema (with its allOf parts) does not name."""
        schema = self.resolve(schema)
        where = pointer or "/"
        if value is None:
            nullable = schema.get("nullable") or any(
                self.resolve(p).get("nullable") for p in schema.get("allOf", [])
            )
            return [] if nullable else [f"{where}: null but not nullable"]
        found: list[str] = []
        for part in schema.get("allOf", []):
            stripped = {k: v for k, v in self.resolve(part).items() if k != "nullable"}
            found += self.errors(stripped, value, pointer, closed=False)
        if (
            closed
            and isinstance(value, dict)
            and (schema.get("type") == "object" or "properties" in schema or "allOf" in schema)
        ):
            props = self._properties(schema)
            found += [
                f"{where}: property {n!r} is not in the schema"
                for n in value
                if n not in props and n not in extra
            ]
        kind = schema.get("type")
        if kind is None and ("properties" in schema or "required" in schema):
            kind = "object"
        if kind == "object":
            if not isinstance(value, dict):
                return [*found, f"{where}: expected an object, got {type(value).__name__}"]
            for name in schema.get("required", []):
                if name not in value:
                    found.append(f"{where}: missing required {name!r}")
            props = dict(schema.get("properties", {}))
            for name, item in value.items():
                if name in props:
                    found += self.errors(props[name], item, f"{pointer}/{name}")
        elif kind == "array":
            if not isinstance(value, list):
                return [*found, f"{where}: expected an array, got {type(value).__name__}"]
            if len(value) < schema.get("minItems", 0):
                found.append(f"{where}: fewer than {schema['minItems']} items")
            for i, item in enumerate(value):
                found += self.errors(schema.get("items", {}), item, f"{pointer}/{i}", extra)
        elif kind == "string":
            if not isinstance(value, str):
                return [*found, f"{where}: expected a string, got {type(value).__name__}"]
            if len(value) > schema.get("maxLength", len(value)):
                found.append(f"{where}: longer than {schema['maxLength']}")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                found.append(f"{where}: {value!r} does not match {schema['pattern']}")
            fmt = schema.get("format")
            if fmt == "uuid":
                try:
                    uuid.UUID(value)
                except ValueError:
                    found.append(f"{where}: {value!r} is not a uuid")
            elif fmt == "date-time":
                try:
                    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    found.append(f"{where}: {value!r} is not a date-time")
                else:
                    if moment.tzinfo is None:
                        found.append(f"{where}: {value!r} has no offset (RFC 3339 needs one)")
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                found.append(f"{where}: expected an integer, got {value!r}")
        elif kind == "number":
            if not isinstance(value, int | float) or isinstance(value, bool):
                found.append(f"{where}: expected a number, got {value!r}")
        elif kind == "boolean" and not isinstance(value, bool):
            found.append(f"{where}: expected a boolean, got {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{where}: {value!r} not in {schema['enum']}")
        return found

    def check(
        self, request: httpx.Request, response: httpx.Response, extra: frozenset[str] = frozenset()
    ) -> list[str]:
        """Problems of `response` to `request` against the OpenAPI (empty: it conforms)."""
        documented = self.documented_response(request.method, request.url.path, response.status_code)
        content = documented.get("content")
        what = f"{request.method} {request.url.path} -> {response.status_code}"
        if response.status_code == 204:
            return [f"{what}: a 204 has a body"] if response.content else []
        if content is None:
            return []  # documented without a body ("Internal server")
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media not in content:
            return [f"{what}: Content-Type {media!r} not in {sorted(content)}"]
        if media == "application/octet-stream":
            problems = []
            for name, header in documented.get("headers", {}).items():
                if name not in response.headers:
                    problems.append(f"{what}: header {name!r} missing")
                elif header.get("schema", {}).get("type") == "string" and not response.headers[name]:
                    problems.append(f"{what}: header {name!r} empty")
            return problems
        return [f"{what}: {p}" for p in self.errors(content[media]["schema"], response.json(), extra=extra)]
