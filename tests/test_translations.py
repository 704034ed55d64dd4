"""The Japanese edition (notebooks/ja/, scripts/translate.py) in step with the English.

Each failure names the notebook and the markdown cell: a cell with no translation, a
translation made from English that has changed since (stale or fuzzy), a committed Japanese
notebook that is not what the catalogs build, mathematics, inline code or folded answers
that differ between the two, and a glossary term (translations/glossary.csv) rendered
otherwise.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = sorted((ROOT / "notebooks").glob("*.ipynb"))
GLOSSARY = ROOT / "translations" / "glossary.csv"
# Mathematics and inline code, either of which may wrap onto a second line of its paragraph.
MATH = re.compile(r"\$\$.+?\$\$|\$(?:[^$\n]|\n(?!\n))+?\$", re.S)
CODE = re.compile(r"`(?:[^`\n]|\n(?!\n))+`")
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# A Japanese term in the English: a run of kana, kanji, ・ and ー, with the letters and digits
# written against it (Xavierの初期値, 2進数の加算).
TERM = re.compile(
    r"[0-9A-Za-z]*[\u3040-\u30ff\u4e00-\u9fff][0-9A-Za-z\u3040-\u30ff\u4e00-\u9fff・ー]*"
)
FOLDS = ("<details>", "</details>", "<summary>", "</summary>")


def load_translate():
    spec = importlib.util.spec_from_file_location("translate", ROOT / "scripts" / "translate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


translate = load_translate()


def entries(notebook: Path) -> list[polib.POEntry]:
    return list(polib.pofile(str(translate.catalog_path(notebook))))


def glossary() -> list[dict[str, str]]:
    with GLOSSARY.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def prose(markdown: str) -> str:
    """The markdown without its mathematics and inline code."""
    return CODE.sub(" ", MATH.sub(" ", markdown))


def differences(english: str, japanese: str) -> list[str]:
    """What must be the same in both and is not: the mathematics, the inline code (as sets:
    Japanese word order may move them), and the folded answers' tags."""
    found = []
    for name, pattern in (("mathematics", MATH), ("inline code", CODE)):
        text_en = english if pattern is MATH else MATH.sub(" ", english)
        text_ja = japanese if pattern is MATH else MATH.sub(" ", japanese)
        spans_en = {" ".join(s.split()) for s in pattern.findall(text_en)}
        spans_ja = {" ".join(s.split()) for s in pattern.findall(text_ja)}
        missing, added = spans_en - spans_ja, spans_ja - spans_en
        if missing or added:
            found.append(f"{name}: missing {sorted(missing)}, added {sorted(added)}")
    found += [f"{tag} count differs" for tag in FOLDS if english.count(tag) != japanese.count(tag)]
    return found


def glossary_misses(
    english: str, japanese: str, terms: list[dict[str, str]], comment: str = ""
) -> list[str]:
    """The glossary's terms that the English uses and the Japanese does not render as the
    glossary says. A translator's comment on the entry ``glossary: not <en> (why)`` exempts
    one term where the English word has another sense (accuracy as numerical precision)."""
    text = prose(english)
    exempt = set(re.findall(r"^glossary: not (.+?)(?: \(.*\))?$", comment, re.M))
    return [
        f"'{t['en']}' is {t['ja']}"
        for t in terms
        if t["check"]
        and t["en"] not in exempt
        and re.search(t["check"], text, re.I)
        and t["ja"] not in japanese
    ]


@pytest.mark.parametrize("notebook", ENGLISH, ids=lambda p: p.name)
def test_every_cell_is_translated_current_and_built(notebook):
    assert not translate.check(notebook)


@pytest.mark.parametrize("notebook", ENGLISH, ids=lambda p: p.name)
def test_mathematics_code_and_folded_answers_are_unchanged(notebook):
    bad = [
        f"{notebook.name}, cell {e.msgctxt}: {d}"
        for e in entries(notebook)
        if e.msgstr
        for d in differences(e.msgid, e.msgstr)
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("notebook", ENGLISH, ids=lambda p: p.name)
def test_glossary_terms_are_rendered_as_the_glossary_says(notebook):
    terms = glossary()
    bad = [
        f"{notebook.name}, cell {e.msgctxt}: {m}"
        for e in entries(notebook)
        if e.msgstr
        for m in glossary_misses(e.msgid, e.msgstr, terms, e.tcomment or "")
    ]
    assert not bad, "\n".join(bad)


def test_the_english_edition_uses_the_glossarys_japanese_terms():
    known = "\n".join(t["ja"] + " " + t["note"] for t in glossary())
    bad = {}
    for notebook in ENGLISH:
        for cid, markdown in translate.markdown_cells(translate.read_notebook(notebook)):
            for term in TERM.findall(prose(markdown)):
                if term not in known:
                    bad.setdefault(term, f"{notebook.name}, cell {cid}")
    assert not bad, f"Japanese terms not in {GLOSSARY.name}: {bad}"


def test_the_checks_fail_on_what_they_check():
    en = "Hidden layer $z_t$, `R.train`. <details><summary>Answer</summary>x</details>"
    terms = [{"en": "hidden layer", "ja": "中間層", "check": r"\bhidden layers?\b", "note": ""}]
    good = "中間層 $z_t$、`R.train`。<details><summary>解答</summary>x</details>"
    assert differences(en, good) == [] and glossary_misses(en, good, terms) == []
    assert differences(en, "隠れ層 $z$、<details>x") == [
        "mathematics: missing ['$z_t$'], added ['$z$']",
        "inline code: missing ['`R.train`'], added []",
        "</details> count differs",
        "<summary> count differs",
        "</summary> count differs",
    ]
    assert glossary_misses(en, "隠れ層", terms) == ["'hidden layer' is 中間層"]
    assert glossary_misses(en, "隠れ層", terms, "glossary: not hidden layer (a test)") == []
    wrapped = "the `sgd_train(params,\nrng)` loop, $z_t = a +\n b$"
    assert differences(wrapped, "`sgd_train(params, rng)` のループ、$z_t = a + b$") == []
    assert TERM.findall("initial weights (Xavierの初期値), 2進数の加算; x") == [
        "Xavierの初期値",
        "2進数の加算",
    ]


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """scripts/translate.py pointed at a copy of notebook 01, its catalog and its build."""
    for name, where in (("ENGLISH", "en"), ("JAPANESE", "ja"), ("CATALOGS", "po")):
        (tmp_path / where).mkdir()
        monkeypatch.setattr(translate, name, tmp_path / where)
    name = "01_concept"
    shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", tmp_path / "en")
    shutil.copy(ROOT / "notebooks" / "ja" / f"{name}.ipynb", tmp_path / "ja")
    shutil.copy(ROOT / "translations" / "ja" / f"{name}.po", tmp_path / "po")
    return tmp_path / "en" / f"{name}.ipynb"


def edit_english(notebook: Path, n: int, text: str) -> str:
    """Replace the nth markdown cell of the English notebook; returns its id."""
    nb = translate.read_notebook(notebook)
    cell = [c for c in nb["cells"] if c["cell_type"] == "markdown"][n]
    cell["source"] = text
    notebook.write_text(translate.notebook_text(nb), encoding="utf-8")
    return cell["id"]


def test_a_changed_english_cell_is_named_until_its_translation_is_updated(copy):
    assert translate.check(copy) == []
    cid = edit_english(copy, 2, "A sentence the translator has not seen.")
    assert translate.check(copy) == [
        f"01_concept.ipynb, markdown cell 2 (id {cid}): stale, the English changed after it "
        "was translated"
    ]
    # `update` keeps the old translation, marked fuzzy, beside the old English
    translated_from = next(e.msgid for e in entries(copy) if e.msgctxt == cid)
    po = translate.update(copy)
    po.save(str(translate.catalog_path(copy)))
    edit_english(copy, 2, "The English changed again before anyone translated it.")
    po = translate.update(copy)  # the old English shown stays the one the translation is from
    entry = next(e for e in po if e.msgctxt == cid)
    assert "fuzzy" in entry.flags and entry.previous_msgid == translated_from and entry.msgstr
    assert translate.check_catalog(copy, po) == [
        f"01_concept.ipynb, markdown cell 2 (id {cid}): marked fuzzy, the English changed: "
        "review, clear the flag"
    ]
    with pytest.raises(ValueError, match=f"id {cid}"):
        translate.build(copy, po)
    # translated again and the flag cleared: built, and the build is then what is committed
    entry.msgstr, entry.flags = "翻訳者がまだ見ていない文です。", []
    po.save(str(translate.catalog_path(copy)))
    assert translate.check(copy) == [
        "notebooks/ja/01_concept.ipynb is not what the catalog builds: run `make japanese`"
    ]
    built = translate.JAPANESE / copy.name
    built.write_text(translate.notebook_text(translate.build(copy, po)), encoding="utf-8")
    assert translate.check(copy) == []


def test_a_new_english_cell_has_no_translation(copy):
    nb = translate.read_notebook(copy)
    nb["cells"].insert(
        1, {"cell_type": "markdown", "id": "new-cell", "metadata": {}, "source": "New."}
    )
    copy.write_text(translate.notebook_text(nb), encoding="utf-8")
    assert translate.check(copy) == [
        "01_concept.ipynb, markdown cell 1 (id new-cell): no translation "
        "(run `make translations`, then translate)"
    ]


def test_a_hand_edited_japanese_notebook_is_caught(copy):
    built = translate.JAPANESE / copy.name
    nb = json.loads(built.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = ["手で直した見出し\n"]
    built.write_text(translate.notebook_text(nb), encoding="utf-8")
    [problem] = translate.check(copy)
    assert problem.endswith("is not what the catalog builds: run `make japanese`")


@pytest.mark.parametrize("notebook", ENGLISH, ids=lambda p: p.name)
def test_code_and_outputs_are_the_englishs(notebook):
    english = translate.read_notebook(notebook)["cells"]
    japanese = translate.read_notebook(ROOT / "notebooks" / "ja" / notebook.name)["cells"]
    assert [c for c in english if c["cell_type"] == "code"] == [
        c for c in japanese if c["cell_type"] == "code"
    ]
    assert all(CJK.search("".join(c["source"])) for c in japanese if c["cell_type"] == "markdown")


@pytest.mark.parametrize("notebook", ENGLISH, ids=lambda p: p.name)
def test_the_series_style_half_width_colons_and_parentheses(notebook):
    """One style across the series (docs/development.md): ": " and "( )" half-width, as in the
    titles and the links between notebooks."""
    bad = [
        f"{notebook.name}, cell {e.msgctxt}: {mark}"
        for e in entries(notebook)
        for mark in "：（）"
        if mark in e.msgstr
    ]
    assert not bad, "\n".join(bad)
