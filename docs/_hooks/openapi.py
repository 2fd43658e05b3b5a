"""MkDocs hook: the REST API reference, generated at build time from the platform's OpenAPI schema.

``create_app()`` is built on a throw-away data directory (nothing is served and no request is
made); its ``app.openapi()`` schema is written into the site as ``openapi.json`` and rendered as
``rest-api.md``: every operation (method, path, summary, parameters, request body, responses) and
every schema (fields, types, required, descriptions). Nothing third-party is copied: the page is
produced by :func:`render_markdown` below.

Run by ``mkdocs build`` (``hooks:`` in ``mkdocs.yml``); also usable alone::

    python docs/_hooks/openapi.py > rest-api.md
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PAGE", "SCHEMA_FILE", "on_files", "openapi_schema", "render_markdown"]

PAGE = "rest-api.md"
SCHEMA_FILE = "openapi.json"
_METHODS = ("get", "post", "put", "patch", "delete")

_INTRO = """# REST API reference

Generated from the platform's own OpenAPI schema when these docs are built (the running platform
serves the same schema at `/openapi.json` and an interactive explorer at `/docs`). The raw schema
of this version: [openapi.json](openapi.json).

Every path is under `/api/v1`. Every route except `GET /health` and `GET /meta` needs an API key,
sent as `X-API-Key: ak_live_...` or `Authorization: Bearer ak_live_...`. An account only sees its
own keys, sessions, runs and evaluations: another account's id answers 404.

Every non-2xx answer has the same envelope, with a stable `code`:

| HTTP | code | when |
|---|---|---|
| 400 | `bad_request` | malformed input that is not a schema error |
| 401 | `unauthorized` | missing, unknown or revoked API key |
| 404 | `not_found`, `run_not_found`, `session_not_found`, `key_not_found`, `dataset_not_found` | unknown id |
| 409 | `conflict`, `run_not_running` | state conflict |
| 413 | `payload_too_large` | request body over the limit |
| 422 | `validation_error` | schema or parameter error; `details` lists `{"field", "message", "allowed"?}` |
| 429 | `rate_limited` | per-key rate limit; see the `Retry-After` header |
| 500 | `internal_error` | a bug; never leaks internals |

"""


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI schema of ``create_app()`` on a throw-away data directory."""
    from tradeready.server.app import create_app
    from tradeready.server.settings import Settings

    with tempfile.TemporaryDirectory(prefix="tradeready-docs-") as home:
        schema: dict[str, Any] = create_app(Settings(home=Path(home))).openapi()
    return schema


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


_KNOWN: set[str] = set()
"""Component schemas of the schema being rendered (a ``$ref`` to anything else is not linked)."""


def _type(schema: Mapping[str, Any]) -> str:
    """A short Markdown rendering of a JSON-schema type (links to component schemas)."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})" if name in _KNOWN else f"`{name}`"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [_type(s) for s in schema[key]]
            return " or ".join(dict.fromkeys(parts))
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {_type(schema['additionalProperties'])}"
    if isinstance(kind, str):
        fmt = schema.get("format")
        return f"{kind} ({fmt})" if fmt else kind
    return "any"


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _constraints(schema: Mapping[str, Any]) -> str:
    names = {
        "minimum": ">=",
        "maximum": "<=",
        "exclusiveMinimum": ">",
        "exclusiveMaximum": "<",
        "minLength": "min length",
        "maxLength": "max length",
        "maxItems": "max items",
        "pattern": "pattern",
    }
    parts = [f"{label} `{schema[key]}`" for key, label in names.items() if key in schema]
    if "default" in schema:
        parts.append(f"default `{json.dumps(schema['default'])}`")
    return ", ".join(parts)


def _operation(method: str, path: str, op: Mapping[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if op.get("summary"):
        lines += [f"**{op['summary']}**", ""]
    if op.get("description"):
        lines += [op["description"].strip(), ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            extra = _constraints(schema)
            desc = " ".join(x for x in (p.get("description", ""), extra) if x)
            required = "yes" if p.get("required") else "no"
            lines.append(f"| `{p['name']}` | {p['in']} | {_type(schema)} | {required} | {_cell(desc)} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            lines += [f"Request body (`{media}`): {_type(content.get('schema', {}))}", ""]
    lines += ["| status | response |", "|---|---|"]
    for status, response in op.get("responses", {}).items():
        schemas = [_type(c.get("schema", {})) for c in response.get("content", {}).values() if c.get("schema")]
        what = " ".join(x for x in (response.get("description", ""), *schemas) if x)
        lines.append(f"| {status} | {_cell(what)} |")
    lines.append("")
    return lines


def _component(name: str, schema: Mapping[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    props: Mapping[str, Any] = schema.get("properties", {})
    if not props:
        lines += [f"Type: {_type(schema)}", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, prop in props.items():
        desc = " ".join(x for x in (prop.get("description", ""), _constraints(prop)) if x)
        lines.append(f"| `{field}` | {_type(prop)} | {'yes' if field in required else 'no'} | {_cell(desc)} |")
    lines.append("")
    return lines


def render_markdown(schema: Mapping[str, Any]) -> str:
    """The reference page: operations grouped by tag (in path order), then every schema."""
    _KNOWN.clear()
    _KNOWN.update(schema.get("components", {}).get("schemas", {}))
    groups: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for path, item in schema["paths"].items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append((method, path, op))
    lines = [_INTRO.rstrip(), ""]
    for tag, ops in groups.items():
        lines += [f"## {tag.replace('-', ' ').capitalize()}", ""]
        for method, path, op in ops:
            lines += _operation(method, path, op)
    lines += ["## Schemas", ""]
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        lines += _component(name, component)
    return "\n".join(lines).rstrip() + "\n"


def on_files(files: Any, config: Any) -> Any:
    """MkDocs event: add the generated page and the raw schema to the site."""
    from mkdocs.structure.files import File

    schema = openapi_schema()
    files.append(File.generated(config, PAGE, content=render_markdown(schema)))
    files.append(File.generated(config, SCHEMA_FILE, content=json.dumps(schema, indent=2)))
    return files


if __name__ == "__main__":
    sys.stdout.write(render_markdown(openapi_schema()))
