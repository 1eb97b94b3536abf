"""experiments/atlas.py on the bundled example with the trained aisfx: one sweep per corruption, the
atlas files, and a rerun that computes nothing (issue 16's acceptance: within 60 s on 2 cores)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import torch

from audiometric.scoring.pipeline import ExtractionOptions

ROOT = Path(__file__).resolve().parents[1]


def _atlas():
    spec = importlib.util.spec_from_file_location("atlas", ROOT / "experiments" / "atlas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_atlas_on_the_bundled_example_with_aisfx(tmp_path):
    torch.set_num_threads(1)
    atlas = _atlas()
    config = atlas.example_config(None)
    config["seeds"] = 2
    levels = {"noise": [0, 0.1, 1], "mask": [0, 0.2, 0.4], "interference": [0, 1, 3], "permute": [0, 2, 4]}
    for name, extra in config["corruptions"].items():
        extra["levels"] = levels[name]
    out = tmp_path / "atlas"
    inputs = atlas.example_inputs(tmp_path / "data", out)
    opts = ExtractionOptions(device="cpu", workers=0, progress=False)
    rows = atlas.run_atlas(config, inputs, out, opts)

    with open(out / "atlas.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert tuple(table[0]) == atlas.COLUMNS
    assert {(r["corruption"], r["metric"]) for r in table} == {(c, m) for c in levels for m in ("fd", "kad")}
    verdicts = {(r["corruption"], r["metric"]): r for r in table}
    assert verdicts[("noise", "fd")]["verdict"] == "detects" and float(verdicts[("noise", "fd")]["threshold"]) in (
        0.1,
        1,
    )
    # aisfx pools 2.3 s blocks and the metrics compare them as a bag: event order is invisible to it
    assert (
        verdicts[("permute", "fd")]["verdict"] == "does not detect" and verdicts[("permute", "fd")]["threshold"] == ""
    )
    for row in table:  # every threshold and verdict is the sweep's own
        summary = json.loads((out / "aisfx" / row["corruption"] / "summary.json").read_text())
        assert summary["metrics"][row["metric"]]["verdict"] == row["verdict"]
    md = (out / "atlas.md").read_text()
    assert "| aisfx · fd |" in md and "| aisfx · kad |" in md and "**from " in md
    assert (out / "atlas.png").stat().st_size > 0

    again = atlas.run_atlas(config, inputs, out, opts)  # every cell reused: no backbone pass, same rows
    assert again == rows
    for corruption in levels:
        counters = json.loads((out / "aisfx" / corruption / "results.json").read_text())["this_run"]
        assert counters["cells_computed"] == 0 and counters["cell_backbone_passes"] == 0
