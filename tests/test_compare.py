"""``audiometric compare``: the JSON it promises, its decisions on same-distribution and damaged systems, letters."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import ToyBackbone, tone_set

from audiometric.errors import AudiometricError
from audiometric.metrics import KAD_SCALE, METRICS, MetricInput, kernel_audio_distance
from audiometric.metrics.frechet import ReferenceGaussian, frechet_distance
from audiometric.scoring.compare_kernel import PooledKernel
from audiometric.scoring.compare_letters import letters
from audiometric.scoring.compare_stats import _pooled_statistic


@pytest.fixture
def toy(monkeypatch):
    """Every backbone is the toy network (fast, deterministic)."""
    import audiometric.scoring.pipeline as pipeline

    torch.set_num_threads(1)
    monkeypatch.setattr(pipeline, "load_models", lambda needs, device, *_: {n: ToyBackbone().eval() for n in needs})


def _run(*args: str) -> tuple[int, str]:
    common = ["--backbone", "aisfx", "--workers", "0", "--no-progress", "--device", "cpu"]
    result = CliRunner().invoke(__import__("audiometric.cli", fromlist=["main"]).main, ["compare", *args, *common])
    return result.exit_code, result.output


def test_letters_follow_piepho() -> None:
    assert letters(["a", "b", "c"], [("a", "c")]) == {"a": "a", "b": "ab", "c": "b"}
    assert letters(["a", "b", "c"], []) == {"a": "a", "b": "a", "c": "a"}
    assert letters(["x", "y", "z"], [("x", "y"), ("x", "z"), ("y", "z")]) == {"x": "a", "y": "b", "z": "c"}
    assert letters(["p", "q", "r", "s"], [("p", "r"), ("p", "s"), ("q", "s")]) == {
        "p": "a",
        "q": "ab",
        "r": "bc",
        "s": "c",
    }


def test_pooled_kernel_equals_kad_on_subsets() -> None:
    rng = np.random.default_rng(0)
    pool, ref = rng.normal(size=(30, 6)), rng.normal(size=(20, 6))
    idx = rng.permutation(30)[:12]
    kernel = PooledKernel(pool, ref, bandwidth=2.5, scale=KAD_SCALE)
    assert kernel(idx) == pytest.approx(kernel_audio_distance(pool[idx], ref, bandwidth=2.5), rel=1e-9)


def test_pooled_frechet_against_statistics_equals_fd() -> None:
    from audiometric.metrics.moments import MomentAccumulator

    rng = np.random.default_rng(1)
    pool, ref = rng.normal(size=(20, 40)), rng.normal(0.2, 1.1, size=(80, 40))
    acc = MomentAccumulator(40).update(ref)
    data = MetricInput(name="fd", gen=[r[None] for r in pool], ref=None, ref_moments=acc, n_reference=80)
    stat = _pooled_statistic(METRICS["fd"], "fd", data, seed=0)
    assert stat is not None
    idx = np.arange(5, 17)
    with warnings.catch_warnings():  # 12 rows in 40 dimensions: the singular-product warning is expected
        warnings.simplefilter("ignore")
        expected = frechet_distance(pool[idx].mean(0), np.cov(pool[idx], rowvar=False), acc.mean, acc.cov())
    assert stat(idx) == pytest.approx(expected, rel=1e-6)
    assert ReferenceGaussian(acc.mean, acc.cov()).distance(pool[idx]) == pytest.approx(expected, rel=1e-6)


def test_cli_json_on_halves_of_one_folder_and_on_a_noisy_system(toy, tmp_path) -> None:
    """Two halves of one tone set: nothing significant. Louder noise: FD significant, CI of Δ excludes 0."""
    tone_set(tmp_path / "half_a", 12, seed=1)
    tone_set(tmp_path / "half_b", 12, seed=2)
    tone_set(tmp_path / "noisy", 12, seed=3, noise=0.5)
    tone_set(tmp_path / "ref", 12, seed=4)
    out = tmp_path / "out.json"
    systems = [str(tmp_path / s) for s in ("half_a", "half_b", "noisy")]
    rank = tmp_path / "ranking.csv"
    code, output = _run(
        *systems, "--ref", str(tmp_path / "ref"), "--metrics", "fd,kad,kl", "--json", str(out), "--ranking", str(rank)
    )
    assert code == 0, output
    result = json.loads(out.read_text())
    assert set(result) == {"systems", "reference", "pairs", "ranking", "provenance"}
    assert result["systems"] == ["half_a", "half_b", "noisy"]
    by_pair = {(p["a"], p["b"]): p["metrics"] for p in result["pairs"]}
    same = by_pair["half_a", "half_b"]
    assert set(same) == {"fd", "kad", "kl_softmax", "kl_sigmoid"}
    assert set(same["fd"]) == {"a", "b", "difference", "ci", "p_value", "p_adjusted", "significant"}
    assert not any(entry["significant"] for entry in same.values())
    damaged = by_pair["half_a", "noisy"]["fd"]
    assert damaged["significant"] and damaged["difference"] > 0 and damaged["ci"][0] > 0
    assert damaged["difference"] == pytest.approx(damaged["b"] - damaged["a"])
    ranking = result["ranking"]["fd"]
    assert ranking[-1]["system"] == "noisy" and ranking[-1]["letters"] not in ranking[0]["letters"]
    assert "Ranking" in output
    rows = [r for r in csv.DictReader(rank.open()) if r["metric"] == "fd"]
    assert [(r["system"], float(r["value"]), r["letters"]) for r in rows] == [
        (e["system"], e["value"], e["letters"]) for e in ranking
    ]


def test_unequal_sizes_are_subsampled_and_statistics_reference(toy, tmp_path) -> None:
    from audiometric.cli import main

    tone_set(tmp_path / "a", 10, seed=1)
    tone_set(tmp_path / "b", 14, seed=2)
    tone_set(tmp_path / "ref", 12, seed=4)
    stats = tmp_path / "ref.npz"
    made = CliRunner().invoke(
        main, ["stats", str(tmp_path / "ref"), "-o", str(stats), "--metrics", "fd", "--backbone", "aisfx"]
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "out.json"
    code, output = _run(
        str(tmp_path / "a"), str(tmp_path / "b"), "--ref", str(stats), "--metrics", "fd,kad", "--json", str(out)
    )
    assert code == 0, output
    result = json.loads(out.read_text())
    assert "subsampled to 10 clips" in " ".join(result["provenance"]["warnings"])
    assert result["provenance"]["systems"]["b"]["compared"] == 10
    assert "kad" in result["provenance"]["not_computed"]
    code, output = _run(str(tmp_path / "a"), str(tmp_path / "b"), "--ref", str(stats), "--metrics", "kad")
    assert code == 1 and "kad: not computed: needs per-clip reference data" in output
    assert result["pairs"][0]["metrics"]["fd"]["p_value"] is not None
    code, output = _run(
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        "--ref",
        str(stats),
        "--metrics",
        "fd",
        "--fd-inf",
        "--json",
        str(out),
        "--overwrite",
    )
    assert code == 0, output
    inf = json.loads(out.read_text())
    assert "subsampled" not in " ".join(inf["provenance"]["warnings"])  # FD∞ does not need equal counts
    assert inf["provenance"]["systems"]["b"]["compared"] == 14
    assert 0 < inf["pairs"][0]["metrics"]["fd_inf"]["p_value"] <= 1


def test_one_system_is_a_user_error(toy, tmp_path) -> None:
    import audiometric

    tone_set(tmp_path / "a", 4, seed=1)
    with pytest.raises(AudiometricError, match="at least two systems"):
        audiometric.compare([tmp_path / "a"], tmp_path / "a", metrics="fd", backbone="aisfx", device="cpu")


def test_tables_print_rounding_noise_and_exact_zeros_as_0(toy, tmp_path) -> None:
    """A system against itself as reference gives FD of float64 noise (~1e-13), and a copy of a system a Δ
    of exactly 0: both print as `0`, without a sign, in the pairwise table and the ranking."""
    tone_set(tmp_path / "a", 10, seed=1)
    tone_set(tmp_path / "ref", 10, seed=4)
    code, output = _run(str(tmp_path / "a"), str(tmp_path / "ref"), "--ref", str(tmp_path / "ref"), "--metrics", "fd")
    assert code == 0, output
    own = next(line for line in output.splitlines() if line.startswith("| a | ref | FD"))
    assert own.split(" | ")[4] == "0", own  # B = ref against itself
    out = tmp_path / "copy.json"
    (tmp_path / "b").mkdir()
    for clip in (tmp_path / "a").iterdir():
        (tmp_path / "b" / clip.name).write_bytes(clip.read_bytes())
    code, output = _run(str(tmp_path / "a"), str(tmp_path / "b"), "--ref", str(tmp_path / "ref"), "--metrics", "fd")
    row = next(line for line in output.splitlines() if line.startswith("| a | b | FD"))
    assert row.split(" | ")[5:7] == ["0", "[0, 0]"], row
    code, output = _run(
        str(tmp_path / "a"), str(tmp_path / "b"), "--ref", str(tmp_path / "ref"), "--metrics", "fd", "--json", str(out)
    )
    result = json.loads(out.read_text())
    assert result["pairs"][0]["metrics"]["fd"]["difference"] == 0
    assert all(entry["resolution"] > 0 for entry in result["ranking"]["fd"])


def test_a_missing_or_empty_system_fails_before_any_clip_is_embedded(toy, tmp_path, monkeypatch) -> None:
    """`compare gen nope`: one line naming the folder, before the reference or the first system is extracted."""
    import audiometric.scoring.compare as compare_module

    tone_set(tmp_path / "a", 4, seed=1)
    tone_set(tmp_path / "ref", 4, seed=4)
    (tmp_path / "empty").mkdir()
    extracted: list[str] = []
    real = compare_module.extract_folder
    monkeypatch.setattr(compare_module, "extract_folder", lambda *a, **k: extracted.append(a[0]) or real(*a, **k))
    for bad, message in (("nope", "directory not found"), ("empty", "no audio files")):
        code, output = _run(str(tmp_path / "a"), str(tmp_path / bad), "--ref", str(tmp_path / "ref"), "--metrics", "fd")
        assert code != 0 and message in output and str(tmp_path / bad) in output, output
        code, output = _run(str(tmp_path / "a"), str(tmp_path / "a"), "--ref", str(tmp_path / bad), "--metrics", "fd")
        assert code != 0 and message in output, output
    assert extracted == []
