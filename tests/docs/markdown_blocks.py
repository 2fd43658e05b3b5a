"""Fenced code blocks of the documentation's Markdown pages, for the tests that run or check them.

Usage::

    for block in code_blocks(DOCS / "tracking.md"):
        print(block.where, block.lang, block.code)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["DOCS", "ROOT", "Block", "code_blocks", "nav_pages"]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    page: str  # path relative to docs/
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    """Every fenced block of a page, in order (an unterminated fence is an error)."""
    page = path.relative_to(DOCS).as_posix()
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"docs/{page}:{i + 1}: unterminated code fence")
        lang = info.split()[0] if info else ""
        blocks.append(Block(page, i + 1, lang, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml, ignoring the ``!!python/name`` tags some plugins use."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def nav_pages() -> list[str]:
    """The Markdown pages of ``mkdocs.yml``'s nav, in order (generated pages included)."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
    pages: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            pages.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    return pages
