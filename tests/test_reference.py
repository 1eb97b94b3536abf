"""Reference statistics files: exact round trip of several accumulators, atomic writes, clear errors."""

import os

import numpy as np
import pytest

from audiometric.errors import AudiometricError
from audiometric.metrics.moments import MomentAccumulator
from audiometric.scoring.reference import FORMAT, ReferenceStats, load_reference, save


def _stats() -> ReferenceStats:
    rng = np.random.default_rng(0)
    moments = {
        "panns-cnn14-16k:embedding": MomentAccumulator(6).update(rng.standard_normal((30, 6)) + 1e4),
        "vggish:embedding": MomentAccumulator(3).update(rng.standard_normal((50, 3))),
    }
    meta = {
        "format": FORMAT,
        "folder": "ref",
        "files": 30,
        "clips": 30,
        "skipped": [],
        "preprocessing": {"channels": "first"},
        "backbones": {},
    }
    return ReferenceStats("", moments, meta)


def test_round_trip_is_exact_and_atomic(tmp_path):
    stats = _stats()
    path = save(stats, tmp_path / "ref.npz")
    assert sorted(os.listdir(tmp_path)) == ["ref.npz"]
    back = load_reference(path)
    assert back.meta == stats.meta and set(back.moments) == set(stats.moments)
    for key, acc in stats.moments.items():
        got = back.accumulator(*key.split(":"))
        assert got.count == acc.count
        np.testing.assert_array_equal(got.mean, acc.mean)
        np.testing.assert_array_equal(got.cov(), acc.cov())


def test_missing_output_and_foreign_files_are_one_line_errors(tmp_path):
    back = load_reference(save(_stats(), tmp_path / "ref.npz"))
    with pytest.raises(AudiometricError, match="not aisfx:embedding"):
        back.accumulator("aisfx", "embedding")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    other = tmp_path / "other.npz"
    np.savez(other, mean=np.zeros(3))
    for path in (bad, other, tmp_path / "missing.npz"):
        with pytest.raises(AudiometricError, match=path.name) as err:
            load_reference(path)
        assert "\n" not in str(err.value) and "audiometric stats" in str(err.value)


def test_accumulate_streams_clips_without_keeping_outputs(tmp_path):
    """Statistics over a folder equal the moments of all rows, cold or warm cache, and no clip keeps outputs."""
    import torch
    from conftest import ToyBackbone, tone_set

    from audiometric.audio.preprocess import Preprocess
    from audiometric.extraction.cache import EmbeddingCache
    from audiometric.extraction.extract import Extractor
    from audiometric.scoring.reference import accumulate

    tone_set(tmp_path / "ref", 7, seconds=0.5)
    extractor = Extractor(
        backbones={"toy": ToyBackbone(frame_level=True)},
        device=torch.device("cpu"),
        pre=Preprocess(),
        cache=EmbeddingCache(tmp_path / "cache"),
        batch_size=3,
        workers=0,
        progress=False,
    )
    kept = extractor.run(sorted((tmp_path / "ref").glob("*.wav")))
    rows = np.concatenate([c.outputs["toy"]["embedding"] for c in kept.clips]).astype(np.float64)
    for run in ("cold", "warm"):
        if run == "cold":
            extractor.cache = EmbeddingCache(tmp_path / "cold")
        else:
            extractor.cache = EmbeddingCache(tmp_path / "cache")
        stats = accumulate(str(tmp_path / "ref"), extractor, {"toy": {"embedding"}})
        acc = stats.accumulator("toy", "embedding")
        assert acc.count == len(rows) and stats.meta["clips"] == 7
        np.testing.assert_allclose(acc.mean, rows.mean(0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(acc.cov(), np.cov(rows, rowvar=False), rtol=1e-10, atol=1e-12)
    streamed = extractor.run(sorted((tmp_path / "ref").glob("*.wav")), sink=lambda clip: None)
    assert len(streamed.clips) == 7 and all(c.outputs == {} for c in streamed.clips)


def test_mismatch_names_the_setting_that_differs_and_hints_only_existing_folders(tmp_path):
    from audiometric.audio.preprocess import Preprocess
    from audiometric.extraction.extract import RESAMPLER
    from audiometric.scoring.reference import check_provenance

    def check(stats, pre):
        check_provenance(stats.path, stats.meta, {}, {**pre.as_dict(), "resampler": RESAMPLER}, stats.recompute_hint())

    stats = _stats()
    stats.meta["preprocessing"] = {**Preprocess().as_dict(), "resampler": RESAMPLER}
    stats.meta["folder"] = str(tmp_path / "gone")
    back = load_reference(save(stats, tmp_path / "ref.npz"))
    with pytest.raises(AudiometricError) as err:
        check(back, Preprocess(channels="mean"))
    message = str(err.value)
    assert "channels='first' there, 'mean' now" in message and "remove_dc" not in message and "\n" not in message
    assert "audiometric stats REF_DIR -o" in message and "gone" not in message  # the folder no longer exists
    (tmp_path / "gone").mkdir()
    with pytest.raises(AudiometricError, match=f"audiometric stats {tmp_path / 'gone'} -o"):
        check(back, Preprocess(max_seconds=5.0))
    check(back, Preprocess())  # same settings: accepted
    with pytest.raises(AudiometricError, match="panns-cnn14-16k checkpoint abc, not def"):
        back.meta["backbones"] = {"panns-cnn14-16k": {"checkpoint_sha256": "abc"}}
        check_provenance(back.path, back.meta, {"panns-cnn14-16k": "def"}, back.meta["preprocessing"], "fix")
