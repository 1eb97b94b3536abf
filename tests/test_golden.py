"""Golden values: the bundled example's scores on aisfx and on random-weight Cnn14/VGGish checkpoints
(tests/golden/example_scores.json) stay put, so a number changes only on purpose.

When a change moves a number on purpose, run ``python tests/golden/update.py`` and commit the table with
the change, giving the reason in the commit message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import update

TABLE = json.loads(update.TABLE.read_text())


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return update.example(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return update.random_checkpoints(tmp_path_factory.mktemp("golden-weights"))


def test_table_covers_every_case():
    assert set(TABLE["cases"]) == set(update.CASES)
    for case, opts in update.CASES.items():
        assert TABLE["cases"][case]["options"] == {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}


@pytest.mark.filterwarnings("ignore::UserWarning")  # N <= d on 12 clips: expected, asserted in test_metrics
@pytest.mark.parametrize("case", list(update.CASES))
def test_example_scores_match_the_table(case, example, checkpoints):
    got = update.scores(case, example, checkpoints)
    want = TABLE["cases"][case]["scores"]
    assert set(got) == set(want)
    for key, value in want.items():
        atol = update.STD_ATOL if key.endswith("_std") else 0.0
        assert got[key] == pytest.approx(value, rel=update.KEY_RTOL.get(key, update.RTOL), abs=atol), (
            f"{case} {key} = {got[key]!r}, table says {value!r}; if this change is meant to move it, run "
            "`python tests/golden/update.py` and give the reason in the commit message"
        )
