"""Extraction: batching never changes a number, the cache hits/misses/invalidates, runs resume."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ToyBackbone, tone_set, write_wav

from audiometric.audio.preprocess import Preprocess
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.extract import Extractor


def _mixed_set(folder):
    """Clips of four lengths and three sample rates, two of them shorter than min_samples."""
    rng = np.random.default_rng(1)
    specs = [
        (16000, 1.0),
        (16000, 1.0),
        (44100, 1.0),
        (44100, 0.5),
        (8000, 0.05),
        (16000, 1.0),
        (48000, 0.7),
        (16000, 0.1),
        (44100, 1.0),
        (16000, 1.0),
    ]
    for i, (rate, sec) in enumerate(specs):
        write_wav(folder / f"m{i:02d}.wav", (0.3 * rng.standard_normal(int(rate * sec))).astype(np.float32), rate)
    return sorted(folder.glob("*.wav"))


def _run(files, cache_root, batch_size=4, workers=0, model=None, pre=Preprocess()):
    model = model or ToyBackbone()
    ex = Extractor(
        backbones={"toy": model},
        device=torch.device("cpu"),
        pre=pre,
        cache=EmbeddingCache(cache_root),
        batch_size=batch_size,
        workers=workers,
        progress=False,
    )
    return ex.run(files), model


def _stack(result, out="embedding"):
    return np.concatenate([c.outputs["toy"][out] for c in result.clips])


def test_batched_equals_one_by_one(tmp_path):
    files = _mixed_set(tmp_path / "a")
    batched, _ = _run(files, None, batch_size=8)
    single, _ = _run(files, None, batch_size=1)
    assert [c.path for c in batched.clips] == [str(f) for f in files]
    np.testing.assert_allclose(_stack(batched), _stack(single), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_stack(batched, "logits"), _stack(single, "logits"), rtol=1e-5, atol=1e-6)


def test_workers_equal_main_process(tmp_path):
    files = _mixed_set(tmp_path / "a")
    main, _ = _run(files, None, workers=0)
    pooled, _ = _run(files, None, workers=2)
    np.testing.assert_allclose(_stack(main), _stack(pooled), rtol=1e-5, atol=1e-6)


def test_short_clips_are_padded_and_metadata_kept(tmp_path):
    files = _mixed_set(tmp_path / "a")
    result, _ = _run(files, None)
    by_name = {Path(c.path).name: c for c in result.clips}
    assert by_name["m04.wav"].sample_rate == 8000 and by_name["m04.wav"].seconds == pytest.approx(0.05)
    assert by_name["m04.wav"].outputs["toy"]["embedding"].shape == (1, 8)


def test_cache_hit_miss_and_invalidation(tmp_path):
    files = tone_set(tmp_path / "a", 6)
    root = tmp_path / "cache"
    first, model = _run(files, root)
    assert (first.cache_hits, first.cache_misses) == (0, 6) and model.calls > 0
    second, model2 = _run(files, root)
    assert (second.cache_hits, second.cache_misses) == (6, 0) and model2.calls == 0
    np.testing.assert_array_equal(_stack(first), _stack(second))
    # new bytes in one file -> one miss
    write_wav(files[0], np.zeros(16000, np.float32), 16000)
    third, _ = _run(files, root)
    assert (third.cache_hits, third.cache_misses) == (5, 1)
    # other preprocessing settings or other weights -> all miss
    assert _run(files, root, pre=Preprocess(channels="mean"))[0].cache_misses == 6
    other = ToyBackbone()
    other.checkpoint_sha256 = "toy-weights-v2"
    assert _run(files, root, model=other)[0].cache_misses == 6


def test_damaged_cache_entry_is_a_miss_and_rewritten(tmp_path):
    files = tone_set(tmp_path / "a", 3)
    root = tmp_path / "cache"
    _run(files, root)
    entries = sorted(root.rglob("*.npz"))
    assert len(entries) == 3 and not list(root.rglob(".tmp*"))
    entries[0].write_bytes(entries[0].read_bytes()[:20])
    again, _ = _run(files, root)
    assert (again.cache_hits, again.cache_misses) == (2, 1)
    assert _run(files, root)[0].cache_hits == 3


def test_read_only_cache_warns_and_continues(tmp_path):
    if os.geteuid() == 0:
        root = tmp_path / "cache-is-a-file"
        root.write_text("x")  # mkdir under a regular file fails even for root
    else:
        root = tmp_path / "ro"
        root.mkdir()
        root.chmod(0o500)
    files = tone_set(tmp_path / "a", 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, _ = _run(files, root)
    assert len(result.clips) == 3
    assert sum("not writable" in str(w.message) for w in caught) == 1


def test_bad_files_are_recorded_skips(tmp_path):
    folder = tmp_path / "a"
    files = tone_set(folder, 3)
    (folder / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (folder / "empty.wav").write_bytes(b"")
    result, _ = _run(sorted(folder.glob("*.wav")), None)
    assert [Path(c.path).name for c in result.clips] == [f.name for f in files]
    assert {os.path.basename(s["file"]) for s in result.skipped} == {"broken.wav", "empty.wav"}
    assert all(s["reason"] for s in result.skipped)


class _Interrupting(ToyBackbone):
    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def forward(self, wav):
        if self.calls >= self.after:
            raise KeyboardInterrupt
        return super().forward(wav)


def test_interrupted_run_leaves_valid_cache_and_resumes(tmp_path):
    files = tone_set(tmp_path / "a", 8)
    root = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        _run(files, root, batch_size=2, model=_Interrupting(after=2))
    assert len(list(root.rglob("*.npz"))) == 4 and not list(root.rglob(".*tmp"))
    resumed, model = _run(files, root, batch_size=2)
    assert (resumed.cache_hits, resumed.cache_misses) == (4, 4) and model.calls == 2
    fresh, _ = _run(files, None, batch_size=2)
    np.testing.assert_allclose(_stack(resumed), _stack(fresh), rtol=1e-6)


def test_frame_level_outputs_keep_frames(tmp_path):
    files = _mixed_set(tmp_path / "a")
    result, _ = _run(files, None, model=ToyBackbone(frame_level=True))
    frames = {Path(c.path).name: c.outputs["toy"]["embedding"].shape[0] for c in result.clips}
    assert frames["m00.wav"] == 1 + (16000 - 400) // 160
    assert frames["m04.wav"] == 1 + (3200 - 400) // 160  # padded to min_samples


def _toy_extractor(cache=None, **kwargs):
    return Extractor(
        backbones={"toy": ToyBackbone()},
        device=torch.device("cpu"),
        pre=Preprocess(),
        cache=cache or EmbeddingCache(None),
        batch_size=4,
        workers=0,
        progress=False,
        **kwargs,
    )


def test_sub_folders_are_clips_named_by_relative_path_and_kl_pairs_them(tmp_path):
    from audiometric.extraction.clipset import extract_folder
    from audiometric.scoring.compute import Settings, compute

    for side, seed in (("gen", 1), ("ref", 2)):
        for sub in ("a", "b", ""):
            tone_set(tmp_path / side / sub, 2, seed=seed + len(sub), prefix="x")
    gen, ref = (extract_folder(str(tmp_path / side), _toy_extractor()) for side in ("gen", "ref"))
    expected = ["a/x000.wav", "a/x001.wav", "b/x000.wav", "b/x001.wav", "x000.wav", "x001.wav"]
    assert gen.names() == ref.names() == expected
    values, not_computed = compute(Settings(metrics=("kl",), backbone="toy", fad_backbone="toy"), gen, ref, None)
    assert not not_computed and values["kl_softmax"]["n_pairs"] == 6


def test_truncated_file_is_a_skip_naming_it_and_both_lengths_unless_allowed(tmp_path):
    from audiometric.extraction.clipset import extract_folder

    folder = tmp_path / "gen"
    tone_set(folder, 2)
    full = write_wav(tmp_path / "full.wav", np.zeros(32000, np.float32), 16000)
    (folder / "cut.wav").write_bytes(full.read_bytes()[: 44 + 2 * 10000])
    clips = extract_folder(str(folder), _toy_extractor())
    assert clips.names() == ["clip000.wav", "clip001.wav"]
    cache = EmbeddingCache(tmp_path / "cache")  # outputs computed under the flag are not served without it
    with pytest.warns(UserWarning, match="truncated"):
        extract_folder(str(folder), _toy_extractor(allow_truncated=True, cache=cache))
    assert extract_folder(str(folder), _toy_extractor(cache=cache)).names() == ["clip000.wav", "clip001.wav"]
    (skip,) = clips.summary()["skipped"]
    assert skip["file"] == str(folder / "cut.wav")
    assert "header promises 32000 frames" in skip["reason"] and "10000 decoded" in skip["reason"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        allowed = extract_folder(str(folder), _toy_extractor(allow_truncated=True))
    assert allowed.names() == ["clip000.wav", "clip001.wav", "cut.wav"] and not allowed.summary()["skipped"]
    (message,) = [str(w.message) for w in caught if "truncated" in str(w.message)]
    assert message.startswith(f"{folder / 'cut.wav'}: truncated") and "\n" not in message


def test_decoder_messages_name_their_file(tmp_path, capfd):
    import soundfile as sf

    rate = 44100
    full = tmp_path / "full.mp3"
    sf.write(full, 0.3 * np.random.default_rng(0).standard_normal(3 * rate), rate, format="MP3")
    cut = tmp_path / "gen" / "cut.mp3"
    cut.parent.mkdir()
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _toy_extractor(allow_truncated=True).run([cut])
    assert len(result.clips) == 1
    xing = [str(w.message) for w in caught if "Xing stream size" in str(w.message)]
    assert len(xing) == 1 and xing[0].startswith(f"{cut}: ")
    assert "Xing" not in capfd.readouterr().err  # not also printed anonymously by libmpg123
