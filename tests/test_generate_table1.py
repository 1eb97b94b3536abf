"""The Table I runner end to end on tiny random models, fake ESC-50/US8K folders and a toy scoring backbone."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("diffusers")
yaml = pytest.importorskip("yaml")

from conftest import ToyBackbone  # noqa: E402

from audiometric.ldm.tiny import write_tiny_clap_audio, write_tiny_pipeline  # noqa: E402
from audiometric.scoring import pipeline as score_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _runner():
    spec = importlib.util.spec_from_file_location("table1", ROOT / "experiments" / "table1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_datasets(root: Path) -> None:
    rng = np.random.default_rng(0)
    esc = ["filename,fold,target,category,esc10,src_file,take"]
    for i in range(3):
        esc.append(f"5-{i}-A-0.wav,5,{i},cat_{i},False,{i},A")
        (root / "esc50" / "audio").mkdir(parents=True, exist_ok=True)
        sf.write(root / "esc50" / "audio" / f"5-{i}-A-0.wav", 0.2 * rng.standard_normal(30000), 22050)
    (root / "esc50" / "meta").mkdir()
    (root / "esc50" / "meta" / "esc50.csv").write_text("\n".join(esc) + "\n")
    us = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for i in range(3):
        us.append(f"{i}-{i}-0-0.wav,{i},0,1,1,10,{i},class_{i}")
        (root / "us8k" / "audio" / "fold10").mkdir(parents=True, exist_ok=True)
        sf.write(root / "us8k" / "audio" / "fold10" / f"{i}-{i}-0-0.wav", 0.2 * rng.standard_normal(20000), 44100)
    (root / "us8k" / "metadata").mkdir()
    (root / "us8k" / "metadata" / "UrbanSound8K.csv").write_text("\n".join(us) + "\n")


@pytest.mark.filterwarnings("ignore:Fréchet distance")
def test_table1_runs_every_cell_resumes_and_assembles(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    pipe = write_tiny_pipeline(tmp_path / "pipe")
    clap = write_tiny_clap_audio(tmp_path / "clap", pipeline=pipe)
    _fake_datasets(tmp_path)
    config = {
        "model": str(pipe),
        "clap": str(clap),
        "conditions": ["text", "audio"],
        "generate": {"steps": 2, "duration": 1.28, "batch_size": 2},
        "score": {"metrics": ["fd", "is", "kl"], "backbone": "toy", "fad_backbone": "toy", "workers": 0},
        "datasets": {
            "esc50": {"data_dir": "esc50", "split": "test"},
            "us8k": {"data_dir": "us8k", "split": "test", "eval_size": 2},
        },
    }
    path = tmp_path / "table1.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setattr(
        score_module, "load_models", lambda needs, device, *_: {name: ToyBackbone().eval() for name in needs}
    )
    runner = _runner()
    out = tmp_path / "run"
    assert runner.main(["--config", str(path), "--out", str(out), "--no-progress"]) == 0
    table = (out / "table1.md").read_text()
    for cell in ("| esc50 | text | 3 |", "| esc50 | audio | 3 |", "| us8k | text | 2 |", "| us8k | audio | 2 |"):
        assert cell in table
    comparison = json.loads((out / "compare" / "esc50.json").read_text())
    kl = {e["system"]: e for e in comparison["ranking"]["kl_softmax"]}
    text_kl = kl["esc50-text"]
    assert f"| {text_kl['value']:.3f} [{text_kl['ci'][0]:.3f}, {text_kl['ci'][1]:.3f}] {text_kl['letters']} |" in table
    record = json.loads((out / "table1.json").read_text())
    assert set(record["cells"]) == {"esc50-text", "esc50-audio", "us8k-text", "us8k-audio"}
    assert record["cells"]["esc50-audio"]["metrics"]["kl_softmax"]["n_pairs"] == 3
    assert sorted(p.name for p in (out / "gen" / "us8k-text").glob("*.wav")) == sorted(
        p.name for p in (out / "ref" / "us8k").glob("*.wav")
    )
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}

    # a second run is served from the finished cells: no clip is rewritten
    assert runner.main(["--config", str(path), "--out", str(out), "--no-progress", "--only", "esc50"]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == stamps
    assert runner.main(["--config", str(path), "--out", str(out), "--only", "nope"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**config, "datasets": {"esc50": {"split": "test"}}}))
    assert runner.main(["--config", str(bad), "--out", str(out)]) == 2
