"""The result table and CSV: skip counts, notes, untrusted FD∞ fits, not-computed rows."""

from __future__ import annotations

import csv

from audiometric.scoring.report import CSV_FIELDS, table, write_csv


def result() -> dict:
    base = {"backbone": "toy", "better": "lower", "n_generated": 4, "n_reference": 6}
    return {
        "audiometric": "0.test",
        "settings": {"confidence": 0.95, "ci_method": "basic"},
        "generated": {"scored": 4, "skipped": [{"file": "g/bad.wav", "reason": "truncated"}] * 4},
        "reference": {"scored": 6, "skipped": []},
        "metrics": {
            "fd": {**base, "value": 45.06, "ci": [-32.8, 33.0], "ci_method": "basic", "note": "outside its interval"},
            "fd_inf": {
                **base,
                "value": -3.0,
                "slope": 120.5,
                "r2": 0.41,
                "trusted": False,
                "note": "untrustworthy fit",
            },
            "kid": {**base, "value": 0.01, "std": 0.002},
        },
        "not_computed": {"kl": "KL skipped: only 0 of 4 generated names match", "is": "needs 10 clips"},
    }


def test_table_names_both_skip_counts_flags_untrusted_fits_and_prints_notes() -> None:
    text = table(result())
    lines = text.splitlines()
    assert lines[0].endswith("4 generated vs 6 reference clips (4 generated skipped, 0 reference)")
    assert "95% CI (basic)" in lines[1]
    fd_inf = next(line for line in lines if line.startswith("FD∞"))
    assert "(untrusted fit)" in fd_inf
    assert "KID " in text and "0.01 ± 0.002" in text
    assert "note: FD∞: untrustworthy fit" in text and "not computed: KL (softmax)" not in text
    assert "not computed: kl: KL skipped" in text and text.count("skipped (generated)") == 4


def test_csv_has_fit_columns_and_a_row_with_the_reason_per_metric_not_computed(tmp_path) -> None:
    path = write_csv(result(), tmp_path / "r.csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == CSV_FIELDS and "reason" in CSV_FIELDS and {"slope", "r2", "trusted"} <= set(CSV_FIELDS)
    by_metric = {r["metric"]: r for r in rows}
    assert by_metric["fd_inf"]["slope"] == "120.5" and by_metric["fd_inf"]["r2"] == "0.41"
    assert by_metric["fd_inf"]["trusted"] == "False" and by_metric["fd"]["ci_method"] == "basic"
    assert by_metric["kl"]["reason"].startswith("KL skipped") and by_metric["kl"]["value"] == ""
    assert by_metric["is"]["reason"] == "needs 10 clips" and by_metric["fd"]["reason"] == ""
