"""experiments/atlas.py on the bundled example with the trained aisfx: one sweep per corruption, the
atlas files, and a rerun that computes nothing (issue 16's acceptance: within 60 s on 2 cores); and the
random-weight checkpoints of --random-weights for a transformers encoder, with a tiny config."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import torch

import corruptions.registry as corruptions
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


def test_random_weights_of_a_transformers_encoder_are_seeded_loadable_and_reused(tmp_path):
    """``--random-weights`` for a transformers backbone: a ``save_pretrained`` folder of the config given
    (here a tiny EnCodec in the JSON layout of tests/data/encoder_configs.json), the same weights for the
    same seed, read by the backbone's own loader, and left as it is on a rerun."""
    pytest.importorskip("transformers")
    from audiometric.backbones import available, load
    from audiometric.backbones.weights import sha256_file
    from audiometric.sweep import ALIASES

    torch.set_num_threads(1)
    atlas = _atlas()
    tiny = {"hidden_size": 8, "num_filters": 2, "upsampling_ratios": [8, 5, 4, 2], "codebook_size": 16}
    tiny |= {"codebook_dim": 8, "target_bandwidths": [1.5], "num_lstm_layers": 1}
    configs = tmp_path / "configs.json"
    configs.write_text(json.dumps({"encodec-24k": {"config": tiny, "preprocessor": {"sampling_rate": 24000}}}))
    first = atlas.write_random_weights("encodec-24k", tmp_path / "a", configs=configs)
    again = atlas.write_random_weights("encodec-24k", tmp_path / "b", configs=configs)
    other = atlas.write_random_weights("encodec-24k", tmp_path / "c", seed=1, configs=configs)
    assert first == tmp_path / "a" / "encodec-24k" and sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "encodec-24k"
    ]  # no partial folder left beside it
    assert sha256_file(first) == sha256_file(again) != sha256_file(other)
    stamp = (first / "config.json").stat().st_mtime_ns
    assert atlas.write_random_weights("encodec-24k", tmp_path / "a", configs=configs) == first
    assert (first / "config.json").stat().st_mtime_ns == stamp
    embedding = load("encodec-24k", str(first))(torch.randn(1, 3200))["embedding"]
    assert tuple(embedding.shape) == (1, 10, 8)  # 320 samples per frame, the tiny config's 8-d latent

    encoders = atlas.example_config(tmp_path)["encoders"]
    assert [e["name"] for e in encoders] == ["aisfx", *atlas.RANDOM_ENCODERS]
    assert set(atlas.RANDOM_ENCODERS) <= set(available()) & {*atlas.RANDOM_LAYOUTS, *atlas.CLASSES}
    for encoder in encoders[1:]:  # the slow encoders' smaller grid: a subset of the default levels (cells reused)
        assert encoder["random"] and encoder.get("seeds", 3) >= 2
        assert set(encoder.get("corruptions", atlas.CORRUPTIONS)) <= set(atlas.CORRUPTIONS)
        for corruption, levels in encoder.get("levels", {}).items():
            default = corruptions.get(ALIASES[corruption]).levels
            assert levels[0] == 0 and len(levels) >= 3 and set(levels) <= set(default)
