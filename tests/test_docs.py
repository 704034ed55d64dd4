"""The README and docs/: short enough for a newcomer, and every relative link resolves.

A link is checked when it is relative (no scheme such as https:, no mailto:): its file must
exist, and an anchor (#part) into a markdown file must be one of that file's headings, as
GitHub makes them (lower case, punctuation dropped, spaces turned to hyphens). Links in the
notebooks' markdown cells are checked the same way, both editions; an anchor into a notebook
must be one of its headings as JupyterLab makes them (the heading's text, spaces turned to
hyphens, nothing dropped: ``## Two paths meet`` is ``#Two-paths-meet``,
``## 準備`` is ``#準備``). Code (fenced blocks, indented blocks,
`inline code`) is left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKDOWN = [
    README,
    ROOT / "README.ja.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "jupyterlab-settings/README.md",
]
NOTEBOOKS = [
    *sorted((ROOT / "notebooks").glob("*.ipynb")),
    *sorted((ROOT / "notebooks" / "ja").glob("*.ipynb")),  # the Japanese edition
]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def prose(text: str) -> str:
    """The markdown without its code: fenced blocks, indented blocks and inline code."""
    out, fenced, code = [], False, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        # An indented block starts after a blank line (it cannot interrupt a paragraph).
        code = line.startswith("    ") and (code or not out or not out[-1].strip())
        if fenced or code:
            continue
        out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for line in prose(path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def lab_anchor(heading: str) -> str:
    """JupyterLab's id for a heading in a notebook: its rendered text, spaces turned to '-'."""
    text = re.sub(r"`|\*\*|__|<[^>]*>", "", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    return text.replace(" ", "-")


def markdown_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def notebook_anchors(notebook: Path) -> set[str]:
    found, fenced = set(), False
    for line in markdown_of(notebook).splitlines():
        fenced ^= line.lstrip().startswith("```")
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*$", line)
        if m:
            found.add(lab_anchor(m.group(1)))
        if not fenced:  # an explicit anchor, as the Japanese edition gives its headings
            found.update(re.findall(r'<a id="([^"]+)">', line))
    return found


def links(text: str) -> list[str]:
    return LINK.findall(prose(text))


def broken(source: Path, text: str) -> list[str]:
    bad = []
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto:, ...
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve() if path else source
        if not resolved.exists():
            bad.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            shown = resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved.name
            bad.append(f"{target}: no heading #{anchor} in {shown}")
        elif anchor and resolved.suffix == ".ipynb" and anchor not in notebook_anchors(resolved):
            bad.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return bad


def test_the_checker_on_a_sample(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("# Start here\n## A class (JupyterHub)\n## Notes\n## Notes\n")
    assert anchors(page) == {"start-here", "a-class-jupyterhub", "notes", "notes-1"}
    text = (
        "[ok](a.md#a-class-jupyterhub) [web](https://x.org/y) [self](#notes-1)\n"
        "[gone](b.md) [bad anchor](a.md#nope) `[code](c.md)`\n"
        "\n    [indented code](d.md)\n```\n[fenced](e.md)\n```\n"
    )
    assert broken(page, text) == ["b.md: no such file", "a.md#nope: no heading #nope in a.md"]
    assert slug("`make lab`, **now** (2)") == "make-lab-now-2"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    text = path.read_text(encoding="utf-8")
    assert links(text) or path != README, "found no links at all: the pattern is wrong"
    assert not broken(path, text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_in_the_notebooks_resolves(path):
    assert not broken(path, markdown_of(path))


def test_anchors_into_a_notebook_are_its_headings_as_jupyterlab_names_them(tmp_path):
    notebook = tmp_path / "n.ipynb"
    cells = ['## Two paths **meet**\n## <a id="Setup"></a>準備\n## The `R.train` loop']
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": cells}]}))
    assert notebook_anchors(notebook) == {"Two-paths-meet", "Setup", "準備", "The-R.train-loop"}
    text = "[a](#準備) [b](#Two-paths-meet) [c](#two-paths-meet) [d](n.ipynb#nope)"
    assert broken(notebook, text) == [
        "#two-paths-meet: no heading #two-paths-meet in n.ipynb",
        "n.ipynb#nope: no heading #nope in n.ipynb",
    ]


def test_the_readme_fits_on_about_two_screens():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, len(lines)
    # A newcomer reaches the commands that open notebook 01 on the first screen.
    first = "\n".join(lines[:50])
    assert "make lab" in first and "jupyter lab notebooks/01_concept.ipynb" in first


def test_the_readme_links_every_page_of_docs():
    text = README.read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name}" in text, f"the README does not link docs/{page.name}"
