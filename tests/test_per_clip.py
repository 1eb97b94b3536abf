"""Per-clip outlier ranking: the per-clip Fréchet distance, per-pair KL, top classes, and `score --per-clip`."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ToyBackbone, tone_set, write_wav
from test_registry import clip_set, stats_file

from audiometric.metrics import MetricWarning, frechet_distance, kl_softmax
from audiometric.metrics.frechet import ReferenceGaussian
from audiometric.scoring.compute import Settings
from audiometric.scoring.per_clip import load_class_labels, per_clip, write_per_clip_csv


@pytest.mark.parametrize("frames", [1, 3, 12])
def test_reference_gaussian_distance_equals_frechet_distance(frames: int) -> None:
    rng = np.random.default_rng(0)
    d = 8
    ref = rng.standard_normal((200, d)) @ rng.standard_normal((d, d))
    mu, sigma = ref.mean(0), np.cov(ref, rowvar=False)
    x = rng.standard_normal((frames, d)) + 0.5
    cov = np.cov(x, rowvar=False) if frames > 1 else np.zeros((d, d))  # one row: zero covariance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        expect = frechet_distance(x.mean(0), cov, mu, sigma)
    assert ReferenceGaussian(mu, sigma).distance(x) == pytest.approx(expect, rel=1e-10)
    singular = np.cov(ref[:5], rowvar=False)  # rank 4 of 8: the eigh factor instead of Cholesky
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        expect = frechet_distance(x.mean(0), cov, mu, singular)
    assert ReferenceGaussian(mu, singular).distance(x) == pytest.approx(expect, rel=1e-8)
    from_rows = ReferenceGaussian.from_rows(ref[:5])  # the rows as the factor: no decomposition
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        expect = frechet_distance(x.mean(0), cov, ref[:5].mean(0), singular)
    assert from_rows.factor.shape == (d, 5) and from_rows.distance(x) == pytest.approx(expect, rel=1e-8)


def test_outlier_ranks_first_with_pair_kl_and_top_classes(tmp_path) -> None:
    rng = np.random.default_rng(1)
    emb = [rng.standard_normal((2, 4)) for _ in range(12)]
    emb[5] = emb[5] + 6.0  # the outlier
    logits = [rng.standard_normal((1, 5)) for _ in range(12)]
    ref_logits = [rng.standard_normal((1, 5)) for _ in range(12)]
    gen = clip_set(emb, logits=logits)
    ref = clip_set([rng.standard_normal((2, 4)) for _ in range(12)], logits=ref_logits)
    rows = per_clip(
        Settings(metrics=("fd", "kl"), backbone="toy", fad_backbone="toy"), gen, ref, None, labels=list("ABCDE")
    )
    assert rows[0]["clip"] == "c005.wav" and [r["fd_clip"] for r in rows] == sorted(
        (r["fd_clip"] for r in rows), reverse=True
    )
    assert np.mean([r["kl_softmax"] for r in rows]) == pytest.approx(
        kl_softmax(np.concatenate(logits), np.concatenate(ref_logits)), rel=1e-12
    )
    top = np.argsort(-logits[5][0])[:3]
    assert rows[0]["top_classes"].split("; ")[0].startswith("ABCDE"[top[0]] + " (")
    assert rows[0]["paired_with"] == "c005.wav"
    out = write_per_clip_csv(rows, tmp_path / "clips.csv")
    table = list(csv.DictReader(out.open()))
    assert table[0]["clip"] == "c005.wav" and list(table[0])[:2] == ["clip", "fd_clip"] and len(table) == 12
    same = per_clip(
        Settings(metrics=("fd",), backbone="toy", fad_backbone="toy"),
        gen,
        None,
        stats_file(ref.rows("toy", "embedding")),
    )
    assert [r["fd_clip"] for r in same] == pytest.approx(sorted((r["fd_clip"] for r in rows), reverse=True), rel=1e-12)
    assert same[0]["top_classes"].startswith("class ")  # no label list: class indices, never invented names


def test_class_labels_csv(tmp_path) -> None:
    path = tmp_path / "class_labels_indices.csv"
    path.write_text('index,mid,display_name\n1,/m/b,"Male speech, man speaking"\n0,/m/a,Speech\n')
    assert load_class_labels(path) == ["Speech", "Male speech, man speaking"]
    from audiometric.errors import AudiometricError

    with pytest.raises(AudiometricError, match="class_labels_indices"):
        load_class_labels(tmp_path / "missing.csv")


def test_score_per_clip_option_puts_the_outlier_first(tmp_path, monkeypatch) -> None:
    import audiometric.scoring.pipeline as score_module
    from audiometric.cli import main

    monkeypatch.setattr(
        score_module, "load_models", lambda needs, device, *_: {name: ToyBackbone().eval() for name in needs}
    )
    tone_set(tmp_path / "gen", 6, seed=1)
    tone_set(tmp_path / "ref", 6, seed=2)
    noise = np.random.default_rng(0).uniform(-0.9, 0.9, 16000).astype(np.float32)  # white noise among tones
    write_wav(tmp_path / "gen" / "clip003.wav", noise, 16000)
    out = tmp_path / "clips.csv"
    result = CliRunner().invoke(
        main,
        [
            "score",
            str(tmp_path / "gen"),
            str(tmp_path / "ref"),
            "--metrics",
            "fd,kl",
            "--backbone",
            "aisfx",
            "--workers",
            "0",
            "--no-progress",
            "--per-clip",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(out.open()))
    assert table[0]["clip"] == "clip003.wav" and len(table) == 6
    assert {"fd_clip", "kl_softmax", "kl_sigmoid", "top_classes"} <= set(table[0])
