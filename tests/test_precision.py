"""``--precision fp16|bf16``: autocast around each network where its registry entry allows it.

A tiny random AST (tests/test_encoders.py) on 1 s tones, one thread. fp32 keeps the cache keys and numbers
of before (tests/test_golden.py holds the numbers); bf16 stays close to fp32, gets its own cache entries and
is recorded in every provenance record; a precision a backbone does not allow is one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tone_set

from audiometric import Scorer, backbones
from audiometric.audio.preprocess import Preprocess
from audiometric.cli import main
from audiometric.errors import AudiometricError
from audiometric.extraction.extract import cache_settings

pytest.importorskip("transformers")
from test_encoders import tiny_ast  # a random ASTForAudioClassification, 16 mel bands

pytestmark = pytest.mark.usefixtures("one_torch_thread")

AST = "ast-audioset"
#: bf16 keeps 8 significant bits (relative step 2^-8 = 3.9e-3); through a network the embedding moves by a
#: few steps (measured here: 1e-2 on this tiny AST; docs/metrics.md "Precision" for every backbone)
BF16_RTOL = 3e-2


@pytest.fixture(scope="module")
def ast_dir(tmp_path_factory) -> Path:
    return tiny_ast(tmp_path_factory.mktemp("ast"))


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sets")
    tone_set(root / "gen", 6, rate=16000, seconds=1.0, seed=1, noise=0.3)
    tone_set(root / "ref", 6, rate=16000, seconds=1.0, seed=2, noise=0.05)
    return root


def _embed(ast_dir: Path, folder: Path, precision: str) -> dict[str, np.ndarray]:
    scorer = Scorer(AST, checkpoints={AST: ast_dir}, precision=precision, device="cpu", workers=0, progress=False)
    arrays = scorer.embed(folder)
    assert arrays is not None
    return arrays


def _entries(home: Path) -> int:
    return len(list((home / "embeddings").rglob("*.npz")))


def test_bf16_is_close_to_fp32_and_never_shares_its_cache_entries(ast_dir, sets, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AUDIOMETRIC_HOME", str(tmp_path / "home"))
    fp32 = _embed(ast_dir, sets / "gen", "fp32")
    assert _entries(tmp_path / "home") == 6
    bf16 = _embed(ast_dir, sets / "gen", "bf16")
    assert _entries(tmp_path / "home") == 12  # its own entries: nothing of fp32's was read back
    again = _embed(ast_dir, sets / "gen", "fp32")  # and fp32 reads its own, not bf16's
    for out in ("embedding", "logits"):
        a, b = fp32[f"{AST}:{out}"], bf16[f"{AST}:{out}"]
        assert a.dtype == b.dtype == np.float32  # back in float32 before any statistics
        assert 0 < np.abs(b - a).max() / np.abs(a).max() < BF16_RTOL
        np.testing.assert_array_equal(again[f"{AST}:{out}"], a)
    records = {p: json.loads(str(arrays["meta"]))["backbones"][AST] for p, arrays in (("fp32", fp32), ("bf16", bf16))}
    assert records["fp32"]["precision"] == "fp32" and records["bf16"]["precision"] == "bf16"


def test_fp32_cache_keys_are_those_of_before(ast_dir) -> None:
    """fp32 adds nothing to a cache key (entries written before --precision existed stay valid)."""
    fp32 = backbones.LazyBackbone(AST, "cpu", str(ast_dir))
    assert "precision" not in cache_settings(fp32, Preprocess())
    bf16 = backbones.LazyBackbone(AST, "cpu", str(ast_dir), precision="bf16")
    assert cache_settings(bf16, Preprocess())["precision"] == "bf16"


def test_provenance_records_precision_and_stats_of_another_precision_are_refused(ast_dir, sets, tmp_path) -> None:
    opts = ["--backbone", AST, "--checkpoint", f"{AST}={ast_dir}", "--workers", "0", "--no-progress", "--device", "cpu"]
    runner = CliRunner()
    stats = tmp_path / "ref.npz"
    res = runner.invoke(
        main, ["stats", str(sets / "ref"), "-o", str(stats), "--metrics", "fd", "--precision", "bf16", *opts]
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "result.json"
    res = runner.invoke(
        main,
        ["score", str(sets / "gen"), str(stats), "--metrics", "fd", "--precision", "bf16", "--json", str(out), *opts],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["backbones"][AST]["precision"] == "bf16"
    res = runner.invoke(main, ["score", str(sets / "gen"), str(stats), "--metrics", "fd", *opts])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert str(stats) in res.output and "bf16, not fp32" in res.output and res.output.count("\n") == 1


def test_a_precision_the_backbone_does_not_allow_is_one_line(sets, tmp_path) -> None:
    """Refused before any weights are looked up or any file decoded; the line names the backbone and the
    allowed values."""
    refusing = "encodec-24k"
    assert "fp16" not in backbones.spec(refusing).precisions
    res = CliRunner().invoke(
        main,
        [
            "score",
            str(sets / "gen"),
            str(sets / "ref"),
            "--backbone",
            refusing,
            "--metrics",
            "fd",
            "--precision",
            "fp16",
        ],
    )
    assert res.exit_code == 2 and "Traceback" not in res.output and res.output.count("\n") == 1
    allowed = ", ".join(backbones.spec(refusing).precisions)
    assert f"backbone {refusing} allows {allowed} only" in res.output and "--precision fp16" in res.output
    with pytest.raises(AudiometricError, match="precision must be one of fp32, fp16, bf16"):
        Scorer(AST, precision="fp8")


def test_front_ends_stay_float32_under_autocast() -> None:
    """The DFT and mel products of Cnn14 and PaSST opt out of autocast: the same float32 log-mels."""
    from audiometric.backbones.panns import Cnn14At16k
    from audiometric.backbones.passt_frontend import PasstMel

    torch.manual_seed(0)
    wav = torch.randn(2, 16000)
    for front in (Cnn14At16k().logmel, PasstMel()):
        with torch.inference_mode():
            plain = front(wav)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                lowered = front(wav)
        assert lowered.dtype == torch.float32
        torch.testing.assert_close(lowered, plain, rtol=0, atol=0)
