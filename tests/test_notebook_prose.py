"""Each notebook fits one 45-minute class slot: at most MAX_WORDS words of prose outside the
folded answers (``<details>`` blocks), and a first result early, within FIRST_RESULT_WORDS
words of prose. Code cells count nothing; a word is a run of characters between spaces
that holds a letter or a digit (so ``$u_t$`` counts as one, a lone ``=`` or ``|`` as none)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MAX_WORDS = 3000
FIRST_RESULT_WORDS = 400
# Notebooks still over the limit, each with the issue that rewrites it; marked strict xfail,
# so a mark cannot outlive its rewrite. None now.
NOT_YET: dict[str, str] = {}

DETAILS = re.compile(r"<details>.*?</details>", re.S | re.I)


def words(markdown: str) -> int:
    return sum(1 for w in DETAILS.sub(" ", markdown).split() if re.search(r"\w", w))


def prose(path: Path) -> tuple[int, int]:
    """(words of prose outside folded answers, words before the first code cell with output)."""
    total, before_result = 0, None
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            total += words("".join(cell["source"]))
        elif cell.get("outputs") and before_result is None:
            before_result = total
    return total, total if before_result is None else before_result


def test_words_are_counted_as_documented():
    md = "Hello, world = $u_t$ | 1. <b>Bold</b>\n<details><summary>Answer</summary>not</details>"
    assert words(md) == 5  # Hello, world $u_t$ 1. <b>Bold</b>


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[p.name]))
        if p.name in NOT_YET
        else p
        for p in NOTEBOOKS
    ],
    ids=lambda p: p.name,
)
def test_a_notebook_fits_one_class_slot(path):
    total, before_result = prose(path)
    assert total <= MAX_WORDS, f"{path.name}: {total} words of prose, at most {MAX_WORDS}"
    assert before_result <= FIRST_RESULT_WORDS, (
        f"{path.name}: {before_result} words before the first result, at most {FIRST_RESULT_WORDS}"
    )
