"""The trained aiSFX network notices waveform noise: FD rises monotonically with severity, verdict `detects`,
with and without the bootstrap.

Clips: the bundled example's reference set (``examples/make_example.py``: synthetic chirps, engine hum,
rain and knocks, 12 clips of 4 s at 22.05 kHz), generated here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from audiometric.scoring.pipeline import ExtractionOptions
from audiometric.sweep import make_spec, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _example(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_set(folder / "ref", seed=0, dull=0.0, noise=0.01)
    return folder / "ref"


def test_aisfx_fd_rises_with_waveform_noise_and_verdicts_do_not_depend_on_bootstrap(tmp_path):
    # issue 15's acceptance: `sweep -c noise --backbone aisfx --metrics fd,kad` (3 seeds, default levels) with
    # --bootstrap 0 and --bootstrap 50 give the same verdicts (detects), and the threshold is no worse with 50
    torch.set_num_threads(1)
    ref = _example(tmp_path)
    summaries = {}
    for n_boot in (0, 50):
        spec = make_spec(
            {
                "corruption": "noise",
                "ref": str(ref),
                "out": str(tmp_path / f"out{n_boot}"),
                "backbone": "aisfx",
                "metrics": "fd,kad",
                "seeds": 3,
                "bootstrap": n_boot,
                "protocol": "split",
            }
        )
        run_sweep(spec, ExtractionOptions(device="cpu", workers=0, progress=False))
        summaries[n_boot] = json.loads((tmp_path / f"out{n_boot}" / "summary.json").read_text())["metrics"]
    fd = summaries[0]["fd"]
    means = [fd["means"][f"{level:g}"] for level in spec.levels]
    assert np.all(np.diff(means) > 0), means
    assert fd["rho"] >= 0.9
    for metric in ("fd", "kad"):
        without, with_50 = summaries[0][metric], summaries[50][metric]
        assert without["verdict"] == with_50["verdict"] == "detects", (without, with_50)
        assert with_50["threshold"] <= without["threshold"]
        assert all(t["ci"][0] < t["difference"] < t["ci"][1] for t in with_50["levels"])
