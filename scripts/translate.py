"""The Japanese edition: notebooks/ja/*.ipynb, built from the English notebooks and one
gettext catalog per notebook (translations/ja/<notebook>.po).

One catalog entry per markdown cell: its context (msgctxt) is the cell's id, its msgid the
English markdown, its msgstr the Japanese. Code cells and their outputs are copied from the
English notebook as they are, so the Japanese edition needs no execution of its own.

Links within a notebook keep the English anchors (``[準備](#Setup)``): each Japanese heading
gets the id of the English heading at its place (``## <a id="Setup"></a>準備``), because
JupyterLab (4.x) does not decode a percent-encoded fragment such as ``#%E6%BA%96%E5%82%99``
and so never finds a heading whose id is Japanese. A translation therefore keeps the
English's headings, at the same levels and in the same order.

    python scripts/translate.py update   # catalogs follow the English: new cells added
                                         # untranslated, changed ones marked fuzzy
    python scripts/translate.py build    # catalogs -> notebooks/ja/*.ipynb
    python scripts/translate.py check    # what tests/test_translations.py checks, as a list

After changing an English notebook: ``update``, translate the entries it marked (Poedit or
any PO editor: a fuzzy entry shows the old English beside the new), clear their fuzzy flag,
then ``build`` and commit the catalog and the built notebook together.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks"
JAPANESE = ROOT / "notebooks" / "ja"
CATALOGS = ROOT / "translations" / "ja"
HEADER = {
    "Project-Id-Version": "rnn-lesson",
    "Language": "ja",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
}


def english_notebooks() -> list[Path]:
    return sorted(ENGLISH.glob("*.ipynb"))


def catalog_path(notebook: Path) -> Path:
    return CATALOGS / f"{notebook.stem}.po"


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def notebook_text(nb: dict) -> str:
    """The file as nbformat writes it (sorted keys, one-space indent, UTF-8 kept)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def headings(markdown: str) -> list[tuple[int, str, str]]:
    """(line number, '#'s, text) of every heading outside fenced code."""
    found, fenced = [], False
    for n, line in enumerate(markdown.split("\n")):
        fenced ^= line.lstrip().startswith("```")
        m = None if fenced else re.match(r"(#{1,6})[ \t]+(.*?)[ \t]*$", line)
        if m:
            found.append((n, m.group(1), m.group(2)))
    return found


def lab_anchor(heading: str) -> str:
    """JupyterLab's id for a heading: its rendered text with spaces turned to '-'."""
    text = re.sub(r"`|\*\*|__", "", heading.strip())
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace(" ", "-")


def with_english_anchors(japanese: str, english: str) -> str:
    """The Japanese markdown, each heading given the id of the English heading at its place."""
    lines = japanese.split("\n")
    for (n, level, text), (_, _, english_text) in zip(
        headings(japanese), headings(english), strict=True
    ):
        lines[n] = f'{level} <a id="{lab_anchor(english_text)}"></a>{text}'
    return "\n".join(lines)


def markdown_cells(nb: dict) -> list[tuple[str, str]]:
    """(cell id, markdown) of every markdown cell, in order."""
    return [(c["id"], "".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown"]


def update(notebook: Path) -> polib.POFile:
    """The notebook's catalog, brought in step with the English: an entry per markdown
    cell, in the notebook's order; a cell whose English changed keeps its old translation,
    marked fuzzy with the old English as previous_msgid; entries of deleted cells go."""
    path = catalog_path(notebook)
    old = polib.pofile(str(path)) if path.exists() else polib.POFile()
    by_id = {e.msgctxt: e for e in old}
    po = polib.POFile(wrapwidth=0)
    po.metadata = HEADER
    for cid, english in markdown_cells(read_notebook(notebook)):
        entry = by_id.get(cid) or polib.POEntry(msgctxt=cid, msgid=english, msgstr="")
        if entry.msgid != english:
            if entry.msgstr and "fuzzy" not in entry.flags:
                # the English the translation was made from (kept if it changes again)
                entry.previous_msgid = entry.msgid
                entry.flags.append("fuzzy")
            entry.msgid = english
        entry.occurrences = [(f"notebooks/{notebook.name}", cid)]
        po.append(entry)
    return po


def build(notebook: Path, po: polib.POFile) -> dict:
    """The Japanese notebook: the English one with each markdown cell's source replaced by
    its translation. Raises ValueError naming the cells that have no current translation."""
    nb = copy.deepcopy(read_notebook(notebook))
    problems = check_catalog(notebook, po)
    if problems:
        raise ValueError("; ".join(problems))
    by_id = {e.msgctxt: e for e in po}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            entry = by_id[cell["id"]]
            japanese = with_english_anchors(entry.msgstr, entry.msgid)
            cell["source"] = japanese.splitlines(keepends=True)
    return nb


def check_catalog(notebook: Path, po: polib.POFile) -> list[str]:
    """Every markdown cell of the English notebook translated, and from its current text."""
    by_id = {e.msgctxt: e for e in po}
    problems = []
    for n, (cid, english) in enumerate(markdown_cells(read_notebook(notebook))):
        entry = by_id.get(cid)
        where = f"{notebook.name}, markdown cell {n} (id {cid})"
        if entry is None or not entry.msgstr:
            problems.append(f"{where}: no translation (run `make translations`, then translate)")
        elif entry.msgid != english:
            problems.append(f"{where}: stale, the English changed after it was translated")
        elif "fuzzy" in entry.flags:
            problems.append(f"{where}: marked fuzzy, the English changed: review, clear the flag")
        elif [h[1] for h in headings(entry.msgstr)] != [h[1] for h in headings(english)]:
            problems.append(f"{where}: its headings differ from the English's (levels, order)")
    return problems


def check(notebook: Path) -> list[str]:
    """What is wrong with the notebook's Japanese edition: its catalog, and whether the
    committed notebooks/ja/ file is what ``build`` makes."""
    path = catalog_path(notebook)
    if not path.exists():
        return [f"{notebook.name}: no catalog translations/ja/{path.name}"]
    po = polib.pofile(str(path))
    problems = check_catalog(notebook, po)
    if problems:
        return problems
    built = JAPANESE / notebook.name
    if not built.exists() or built.read_text(encoding="utf-8") != notebook_text(
        build(notebook, po)
    ):
        problems.append(
            f"notebooks/ja/{built.name} is not what the catalog builds: run `make japanese`"
        )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("update", "build", "check"):
        print(__doc__)
        return 2
    what = argv[0]
    problems = []
    for notebook in english_notebooks():
        if what == "update":
            CATALOGS.mkdir(parents=True, exist_ok=True)
            update(notebook).save(str(catalog_path(notebook)))
        elif what == "build":
            JAPANESE.mkdir(parents=True, exist_ok=True)
            try:
                nb = build(notebook, polib.pofile(str(catalog_path(notebook))))
            except (ValueError, OSError) as e:
                problems.append(f"{notebook.name}: not built: {e}")
                continue
            (JAPANESE / notebook.name).write_text(notebook_text(nb), encoding="utf-8")
        else:
            problems += check(notebook)
    print("\n".join(problems) or f"{what}: done, {len(english_notebooks())} notebooks")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
