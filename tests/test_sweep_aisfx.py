"""The trained aiSFX network notices waveform noise: FD rises monotonically with severity, verdict `detects`.

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


def test_aisfx_fd_rises_with_waveform_noise(tmp_path):
    torch.set_num_threads(1)
    spec = make_spec(
        {
            "corruption": "noise",
            "ref": str(_example(tmp_path)),
            "out": str(tmp_path / "out"),
            "backbone": "aisfx",
            "metrics": "fd",
            "levels": "0,0.01,0.1,1",
            "seeds": 2,
            "protocol": "split",
        }
    )
    run_sweep(spec, ExtractionOptions(device="cpu", workers=0, progress=False))
    fd = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["fd"]
    means = [fd["means"][f"{level:g}"] for level in spec.levels]
    assert np.all(np.diff(means) > 0), means
    assert fd["rho"] >= 0.9
    assert fd["verdict"] == "detects"
