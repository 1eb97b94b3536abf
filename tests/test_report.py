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


def _entries(gen: list, ref: list, stats_file: bool = False) -> dict[str, dict]:
    """FD, KID and KAD result entries (value and fields, as the pipeline writes them) of two clip sets; with
    ``stats_file`` FD reads the reference as a statistics file does (moments only)."""
    import numpy as np

    from audiometric.metrics import METRICS, fd, kad, kid
    from audiometric.metrics.moments import MomentAccumulator
    from audiometric.metrics.protocol import MetricInput

    moments = MomentAccumulator(ref[0].shape[1]).update(np.concatenate(ref))
    out = {}
    for name, module in (("fd", fd), ("kid", kid), ("kad", kad)):
        as_file = stats_file and name == "fd"
        data = MetricInput(
            name=name,
            gen=gen,
            ref=None if as_file else ref,
            ref_moments=moments if as_file else None,
            n_reference=len(ref),
            params=METRICS[name].defaults,
        )
        estimate = module.compute(data)[name]
        out[name] = {"value": estimate.value, **estimate.fields, "backbone": "toy", "better": "lower"}
    return out


def test_noise_below_the_arithmetic_resolution_prints_as_zero() -> None:
    """Identical sets: FD against their statistics file is 0 up to float64 rounding (-1.1e-12 here), and KID's
    spread over subsets that all hold every row is rounding noise too; the table prints both as 0, no sign."""
    import numpy as np

    from audiometric.scoring.report import format_value

    rng = np.random.default_rng(0)
    clips = [rng.normal(5.0, 3.0, size=(3, 64)) for _ in range(60)]
    same = {**result(), "metrics": _entries(clips, [c.copy() for c in clips], stats_file=True), "not_computed": {}}
    rows = {line.split()[0]: line.split()[1:] for line in table(same).splitlines()[2:] if line.split()}
    fd, kid, kad = (same["metrics"][k] for k in ("fd", "kid", "kad"))
    assert abs(fd["value"]) <= fd["resolution"] and kid["std"] <= kid["resolution"]
    assert rows["FD"][0] == "0" and rows["KID"][1:3] == ["±", "0"]
    # not noise: the unbiased KID/KAD of identical sets are negative (their within-set means skip the diagonal)
    assert rows["KID"][0] == format_value(kid["value"]).lstrip() and kid["value"] < -kid["resolution"]
    assert rows["KAD"][0] == format_value(kad["value"]) and kad["value"] < -kad["resolution"]
    assert format_value(-1.7e-13, 1e-9) == "0" and format_value(-0.0) == "0" and format_value(5e-15, 1e-9) == "0"
    # a real difference, however small against the data, keeps its digits and its sign
    shifted = _entries([c + 0.05 for c in clips], clips, stats_file=True)
    assert shifted["fd"]["value"] > 1e3 * shifted["fd"]["resolution"]
    assert format_value(-2e-6, 1e-9) == "-2e-06" and format_value(0.5, 1e-9) == "0.5"
