"""Griffe extension: render our reStructuredText-flavoured docstrings as Markdown for mkdocstrings.

The packages' docstrings use a few reST idioms that Markdown would mangle; this rewrites them,
without touching the sources, before mkdocstrings parses the docstring (Google style):

- ``Usage::`` + an indented block -> ``Usage:`` + a fenced Python block;
- ``double backticks`` -> `code`; ``:class:`~pkg.mod.Name``` (and ``:meth:``, ``:func:``...) -> `Name`;
- simple reST tables (``=====  =====`` borders) -> Markdown tables;
- definition paragraphs (a term line followed by an indented body) -> a bold term and its body;
- Google sections (``Args:``, ``Attributes:``...) are left as they are.

Enabled in ``mkdocs.yml`` (``extensions: [docs/_hooks/rst_docstrings.py]``). Usage on a string::

    RstDocstrings.convert("Usage::\\n\\n    env.reset()\\n")   # 'Usage:\\n\\n```python\\nenv.reset()\\n```\\n'
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

__all__ = ["RstDocstrings"]

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")
_SECTION = re.compile(
    r"^\s*(Args|Arguments|Attributes|Parameters|Returns|Raises|Yields|Warns|Examples?|Notes?|Warnings?|"
    r"Other Parameters|Receives|Methods|Functions|Classes|Modules|See Also):\s*$"
)


def _role(match: re.Match[str]) -> str:
    target = match[2]
    return f"`{target.rsplit('.', 1)[-1] if match[1] else target}`"


def _inline(line: str) -> str:
    return _LITERAL.sub(r"`\1`", _ROLE.sub(_role, line))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _table(lines: list[str]) -> list[str]:
    """A simple reST table (first line is a border) -> Markdown; continuation rows are joined."""
    border = lines[0]
    spans = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
    rows: list[list[str]] = []
    for line in lines[1:]:
        if _BORDER.match(line):
            continue
        cuts = [0]
        for start, _ in spans[1:]:  # a cell that overflows its column ends at the next double space
            cut = max(start, cuts[-1])
            if 0 < cut < len(line) and line[cut - 1] != " " and line[cut] != " ":
                gap = line.find("  ", cut)
                cut = gap if gap != -1 else len(line)
            cuts.append(cut)
        cells = [line[a:b].strip() for a, b in zip(cuts, [*cuts[1:], len(line)], strict=True)]
        if rows and not cells[0]:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    if not rows:
        return []
    out = ["| " + " | ".join(_inline(c) for c in rows[0]) + " |", "|" + "---|" * len(spans)]
    out += ["| " + " | ".join(_inline(c).replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return out


class RstDocstrings(griffe.Extension):
    """Rewrites each docstring once the object tree is loaded."""

    def on_object(self, *, obj: Any, loader: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is not None and docstring.value:
            docstring.value = self.convert(docstring.value)

    @staticmethod
    def convert(text: str) -> str:
        lines = text.splitlines()
        out: list[str] = []
        i = 0
        in_section = False
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if _BORDER.match(line):  # a simple table, up to its closing border (the third)
                j, borders = i + 1, 1
                while j < len(lines) and borders < 3:
                    borders += bool(_BORDER.match(lines[j]))
                    j += 1
                out += _table(lines[i:j])
                i = j
                continue
            if stripped.endswith("::"):  # a literal block follows
                head = line.rstrip()[:-2].rstrip()
                if head.strip():
                    out.append(_inline(head) + ":")
                j = i + 1
                while j < len(lines) and not lines[j].strip():
                    j += 1
                base = _indent(line)
                block: list[str] = []
                while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                    block.append(lines[j])
                    j += 1
                while block and not block[-1].strip():
                    block.pop()
                out += ["", "```python", *textwrap.dedent("\n".join(block)).splitlines(), "```", ""]
                i = j
                continue
            if _SECTION.match(line):
                in_section = True
                out.append(line)
                i += 1
                continue
            if stripped and _indent(line) == 0:
                in_section = False
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if nxt.strip() and _indent(nxt) > 0 and not stripped.startswith(("-", "*")):
                    out.append(f"**{_inline(stripped)}**")  # a definition term
                    out.append("")
                    i += 1
                    continue
            if not in_section and _indent(line) >= 4:
                line = line[4:]  # a definition body or a nested list: never a code block in Markdown
            out.append(_inline(line))
            i += 1
        return "\n".join(out)
