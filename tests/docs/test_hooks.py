"""The docs build's own helpers: the reST-to-Markdown docstring rewriter and the REST page renderer."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.docs.markdown_blocks import DOCS


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", DOCS / "_hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


convert = _load("rst_docstrings").RstDocstrings.convert
openapi = _load("openapi")


def test_literal_blocks_become_fenced_python() -> None:
    text = "Usage::\n\n    env = make()\n    env.reset()\n\nAfter."
    assert convert(text) == "Usage:\n\n```python\nenv = make()\nenv.reset()\n```\n\nAfter."


def test_roles_and_double_backticks_become_code() -> None:
    text = "A :class:`~pkg.mod.Name`, :func:`pkg.f` and ``x = 1``."
    assert convert(text) == "A `Name`, `pkg.f` and `x = 1`."


def test_simple_tables_become_markdown_even_when_a_cell_overflows() -> None:
    text = "\n".join(
        [
            "======  ===========",
            "name    meaning",
            "======  ===========",
            "``a``   first",
            "        continued",
            "``bbbbbbb``  second",
            "======  ===========",
        ]
    )
    assert convert(text).splitlines() == [
        "| name | meaning |",
        "|---|---|",
        "| `a` | first continued |",
        "| `bbbbbbb` | second |",
    ]


def test_definition_terms_are_bold_and_google_sections_are_kept() -> None:
    text = "Timing\n    Row t uses rows 0..t.\n\nAttributes:\n    x: the x."
    assert convert(text) == "**Timing**\n\nRow t uses rows 0..t.\n\nAttributes:\n    x: the x."


def test_rest_page_links_known_schemas_only(tmp_path: Path) -> None:
    schema = {
        "paths": {
            "/api/v1/things/{id}": {
                "get": {
                    "tags": ["things"],
                    "summary": "Get Thing",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 9}}
                    ],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                        }
                    },
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}
                    },
                }
            }
        },
        "components": {"schemas": {"Thing": {"properties": {"n": {"type": "integer"}}, "required": ["n"]}}},
    }
    page = openapi.render_markdown(schema)
    assert "### `GET /api/v1/things/{id}`" in page
    assert "| `id` | path | string | yes | max length `9` |" in page
    assert "| 200 | OK [Thing](#thing) |" in page
    assert "Request body (`application/json`): `Missing`" in page
    assert "| `n` | integer | yes |  |" in page
