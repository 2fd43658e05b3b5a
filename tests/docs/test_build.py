"""The documentation builds with MkDocs in strict mode (every warning is an error).

The REST API page is generated at build time from ``create_app()``'s OpenAPI schema by the hook in
``docs/_hooks/openapi.py``; the built site must hold every operation of the live schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docs.markdown_blocks import DOCS, ROOT, nav_pages
from tradeready.server.app import create_app
from tradeready.server.settings import Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    return out


def test_every_page_is_in_the_nav_and_built(site: Path) -> None:
    pages = nav_pages()
    sources = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_hooks" not in p.parts}
    assert sources | {"rest-api.md", "cli.md"} == set(pages)  # the two generated pages
    for page in pages:
        html = site / page.removesuffix(".md").removesuffix("index") / "index.html"
        assert html.is_file(), page


def test_rest_api_reference_is_generated_from_the_schema(site: Path, tmp_path: Path) -> None:
    schema = create_app(Settings(home=tmp_path)).openapi()
    assert json.loads((site / "openapi.json").read_text()) == schema
    page = (site / "rest-api" / "index.html").read_text()
    operations = [(m.upper(), p) for p, item in schema["paths"].items() for m in item]
    assert len(operations) >= 30
    for method, path in operations:
        assert f"{method} {path}" in page, (method, path)
    for name in schema["components"]["schemas"]:
        assert f'id="{name.lower()}"' in page, name


def test_reference_pages_render_the_docstrings(site: Path) -> None:
    environments = (site / "gym" / "environments" / "index.html").read_text()
    for parameter in ("starting_balance", "lookback_window", "observation_features", "episode_length", "allow_short"):
        assert parameter in environments, parameter
    rewards = (site / "gym" / "rewards" / "index.html").read_text()
    for name in ("SharpeReward", "DifferentialSharpeReward", "CompositeReward", "MAX_STEP_RETURN"):
        assert name in rewards, name
    sdk = (site / "sdk" / "index.html").read_text()
    for method in ("get_training_runs", "get_learning_curve", "compare_training_runs", "record_evaluation"):
        assert method in sdk, method


def test_cli_reference_lists_every_command_and_option(site: Path) -> None:
    import typer.main

    from tradeready.cli.main import app

    page = (site / "cli" / "index.html").read_text()

    def walk(path: list[str], command: Any) -> None:
        assert f"<code>{' '.join(path)}</code>" in page, path
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else ():
                assert f"<code>{opt}</code>" in page or opt == "--help", (path, opt)
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk([*path, name], sub)

    walk(["tradeready"], typer.main.get_command(app))
