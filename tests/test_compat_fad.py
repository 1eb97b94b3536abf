"""``--compat``'s FAD input against an independent numpy/resampy computation of audioldm_eval 0.0.3's.

audioldm_eval (``metrics/fad.py``, ``load_audio_task``) reads each file with ``soundfile.read(dtype="int16")``,
divides by 32768, averages the channels, resamples with ``resampy.resample`` (``kaiser_best``) to 16 kHz,
and leaves out clips too short for one VGGish patch (torchvggish raises on them and the file is skipped).
The network here is the VGGish front end with a small seeded projection: the test is about the input.
"""

import warnings

import numpy as np
import pytest
import resampy
import soundfile as sf
import torch
from conftest import ToyBackbone, write_wav
from scipy import linalg

from audiometric.audio import kaiser
from audiometric.audio.preprocess import Preprocess, compat_fad
from audiometric.backbones.vggish import N_MELS, PATCH_FRAMES, VGGish
from audiometric.errors import AudiometricError
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.clipset import extract_folder
from audiometric.extraction.extract import Extractor
from audiometric.scoring.compute import Settings, compute
from audiometric.scoring.per_clip import per_clip

DIM = 8


class SeededVGGish(VGGish):
    """VGGish's front end (log-mel patches) and a fixed random projection in place of the 72M-weight CNN."""

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(7)
        self.register_buffer("proj", torch.randn(PATCH_FRAMES * N_MELS, DIM, generator=gen) / 40, persistent=False)
        self.checkpoint_sha256 = "seeded-vggish-test"

    def embed_patches(self, patches):
        return torch.tanh(patches.reshape(patches.shape[0], -1) @ self.proj)


def _set(folder, seed, longest):
    """16-bit PCM clips at five rates, mono and stereo, 0.5 s to ``longest`` s (0.5 s is under one patch)."""
    rng = np.random.default_rng(seed)
    specs = [
        (16000, 1, 0.5),
        (16000, 2, 3.0),
        (22050, 1, 2.0),
        (22050, 2, longest),
        (32000, 1, 1.5),
        (32000, 2, 0.5),
        (44100, 2, 4.0),
        (44100, 1, 2.5),
        (48000, 2, 3.0),
        (48000, 1, 1.0),
        (16000, 1, 2.0),
    ]
    for i, (rate, channels, seconds) in enumerate(specs):
        n = int(rate * seconds)
        t = np.arange(n) / rate
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 3000) * t) + 0.05 + 0.2 * rng.standard_normal(n)
        audio = np.stack([tone, 0.5 * tone + 0.1 * rng.standard_normal(n)], 1) if channels == 2 else tone
        write_wav(folder / f"c{i:02d}.wav", np.clip(audio, -1, 1).astype(np.float32), rate)
    return folder


def _audioldm_eval_rows(folder, model):
    """Embeddings of every clip as audioldm_eval's FAD computes its input, re-derived with numpy and resampy."""
    rows, dropped = [], []
    for path in sorted(folder.glob("*.wav")):
        data, rate = sf.read(path, dtype="int16")
        data = data / 32768.0
        if data.ndim > 1:
            data = np.mean(data, axis=1)
        if rate != 16000:
            data = resampy.resample(data, rate, 16000)
        if len(data) < 15600:  # no full 0.96 s patch: torchvggish fails, audioldm_eval skips the file
            dropped.append(path.name)
            continue
        with torch.inference_mode():
            patches = model.log_mel_patches(torch.from_numpy(data)[None])[0]
            rows.append(model.embed_patches(patches).numpy().astype(np.float64))
    return np.concatenate(rows), dropped


def _frechet(a, b):
    """audioldm_eval's calculate_frechet_distance (mean, np.cov, scipy sqrtm), written out."""
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2)).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.fixture(scope="module")
def model():
    return SeededVGGish().eval()


def _extract(folder, views, model, cache=None):
    models = {"toy": ToyBackbone(), "vggish": model}
    ex = Extractor(
        backbones=models,
        device=torch.device("cpu"),
        pre=Preprocess(),
        cache=EmbeddingCache(cache),
        batch_size=4,
        workers=0,
        progress=False,
        views=views,
    )
    return extract_folder(str(folder), ex)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("compat")
    return _set(root / "gen", 1, 12.0), _set(root / "ref", 2, 5.0)


def test_compat_fad_equals_audioldm_eval_input_path(sets, model, tmp_path):
    gen_dir, ref_dir = sets
    gen_rows, gen_dropped = _audioldm_eval_rows(gen_dir, model)
    ref_rows, ref_dropped = _audioldm_eval_rows(ref_dir, model)
    expected = _frechet(gen_rows, ref_rows)
    views = {"vggish": compat_fad(Preprocess())}
    settings = Settings(metrics=("fad", "fd"), backbone="toy", fad_backbone="vggish", compat=True)
    gen, ref = _extract(gen_dir, views, model, tmp_path / "cache"), _extract(ref_dir, views, model, tmp_path / "cache")
    values, not_computed = compute(settings, gen, ref, None)
    assert not not_computed
    assert values["fad"]["value"] == pytest.approx(expected, rel=1e-4)
    assert values["fad"]["n_generated"] == len(gen.names()) - len(gen_dropped) == 9
    assert values["fd"]["n_generated"] == 11  # the Cnn14 side keeps every clip
    assert values["fad"]["n_reference"] == 9 and "2 generated and 2 reference clips shorter" in values["fad"]["note"]
    ranked = {row["clip"]: row for row in per_clip(settings, gen, ref, None)}  # rows stay aligned with names
    assert len(ranked) == 11 and {n for n, r in ranked.items() if "fad_clip" not in r} == set(gen_dropped)
    for clips, dropped in ((gen, gen_dropped), (ref, ref_dropped)):
        excluded = clips.summary()["excluded"]["vggish"]
        assert [e["file"].rsplit("/", 1)[1] for e in excluded] == dropped == ["c00.wav", "c05.wav"]
        assert all("15600" in e["reason"] and "audioldm_eval" in e["reason"] for e in excluded)
        assert "toy" not in clips.summary()["excluded"]
        assert len(clips.names("vggish")) == len(clips.rows("vggish", "embedding")) == 9  # aligned for per-clip use
        assert not {name.rsplit("/", 1)[-1] for name in clips.names("vggish")} & set(dropped)
    # the other backbone is untouched by the FAD view: same outputs as a run without it
    plain = _extract(gen_dir, None, model)
    for a, b in zip(plain.rows("toy", "embedding"), gen.rows("toy", "embedding")):
        np.testing.assert_array_equal(a, b)
    # the default FAD input (channel 0, DC removed, sinc, short clips padded) is measurably not audioldm_eval's
    default, _ = compute(settings, plain, _extract(ref_dir, None, model), None)
    assert abs(default["fad"]["value"] / expected - 1) > 1e-3
    # a warm run reads the same outputs and the same exclusions from the cache
    again = _extract(gen_dir, views, model, tmp_path / "cache")
    assert again.extraction.cache_hits == 22 and again.summary()["excluded"] == gen.summary()["excluded"]
    assert compute(settings, again, ref, None)[0]["fad"]["value"] == values["fad"]["value"]


@pytest.mark.parametrize("orig", [22050, 32000, 44100, 48000, 8000])
def test_streamed_kaiser_best_is_bit_identical_to_one_resampy_call(orig):
    x = np.random.default_rng(orig).standard_normal(orig // 2 + 7)
    whole = resampy.resample(x, orig, 16000, filter="kaiser_best").astype(np.float32)
    for block in (7, 333, 1 << 18):
        np.testing.assert_array_equal(kaiser.resample_kaiser_best(x, orig, 16000, block=block), whole)
    assert kaiser.resample_kaiser_best(x[:2], orig, 16000).shape == (int(2 * 16000 / orig),)


def test_float_wavs_under_compat_warn_once_and_keep_their_samples(tmp_path, model):
    rng = np.random.default_rng(0)
    for i in range(2):
        write_wav(tmp_path / "f" / f"f{i}.wav", (0.3 * rng.standard_normal(20000)).astype(np.float32), 16000, "FLOAT")
    for cache in (tmp_path / "cache", tmp_path / "cache"):  # cold, then warm: the same one warning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clips = _extract(tmp_path / "f", {"vggish": compat_fad(Preprocess())}, model, cache)
        messages = [str(w.message) for w in caught if "quantise" in str(w.message)]
        assert len(messages) == 1 and messages[0].startswith("2 float WAV file(s)") and "\n" not in messages[0]
    assert np.abs(np.concatenate(clips.rows("vggish", "embedding"))).max() > 0.01  # not the {-1, 0, 1} imitation


def test_missing_resampy_is_a_one_line_error(monkeypatch, model):
    kaiser.require_resampy.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "resampy", None)
    try:
        with pytest.raises(AudiometricError, match=r"pip install 'audiometric\[compat\]'"):
            Extractor(
                backbones={"vggish": model},
                device=torch.device("cpu"),
                pre=Preprocess(),
                cache=EmbeddingCache(None),
                views={"vggish": compat_fad(Preprocess())},
            )
    finally:
        kaiser.require_resampy.cache_clear()


def test_score_compat_cli_feeds_vggish_audioldm_evals_input(sets, model, tmp_path, monkeypatch):
    """End to end through ``audiometric score --compat``: the JSON records the view and the left-out clips."""
    import json

    from click.testing import CliRunner

    import audiometric.scoring.pipeline as score_module
    from audiometric.cli import main

    stand_ins = {"panns-cnn14-16k": ToyBackbone(), "vggish": model}
    monkeypatch.setattr(score_module, "load_models", lambda needs, device, *_: {n: stand_ins[n] for n in needs})
    gen_dir, ref_dir = sets
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        main,
        [
            "score",
            str(gen_dir),
            str(ref_dir),
            "--metrics",
            "fd,fad",
            "--compat",
            "--workers",
            "0",
            "--no-progress",
            "--json",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    expected = _frechet(_audioldm_eval_rows(gen_dir, model)[0], _audioldm_eval_rows(ref_dir, model)[0])
    assert report["metrics"]["fad"]["value"] == pytest.approx(expected, rel=1e-4)
    assert report["metrics"]["fad"]["n_generated"] == 9 and report["metrics"]["fd"]["n_generated"] == 11
    view = report["preprocessing"]["per_backbone"]["vggish"]
    assert (view["pcm"], view["channels"], view["remove_dc"], view["short"]) == ("int16", "mean", False, "drop")
    assert view["resampler"]["filter"] == "kaiser_best" and report["preprocessing"]["channels"] == "first"
    assert len(report["generated"]["excluded"]["vggish"]) == 2 and report["generated"]["skipped"] == []
