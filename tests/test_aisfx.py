"""aiSFX backbone: front end vs essentia, embeddings vs the aisfx package's own network, loading.

References (dev dependencies, skipped when missing): essentia.standard, built the way
``aisfx/spectrogram/spectrogram_essentia.py`` configures its streaming chain (the standard and streaming
FrameCutter cut the same frames for ``startFromZero=False``), and the aisfx package's
``preprocessing`` + ``models.cnn2d`` code loaded with its trained checkpoint.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import audiometric.backbones.aisfx as aisfx_backbone
from audiometric.backbones.aisfx import Aisfx, essentia_mel_filterbank, load_aisfx, n_blocks, n_frames
from audiometric.backbones.checkpoint import load_checkpoint
from audiometric.errors import WeightsError

SR = 44100


@pytest.fixture(scope="module")
def es():
    return pytest.importorskip("essentia.standard")


@pytest.fixture(scope="module")
def package():
    """The aisfx package's inference and preprocessing modules (its network definition is imported by them)."""
    inference = pytest.importorskip("aisfx.inference")
    preprocessing = pytest.importorskip("aisfx.preprocessing")
    return inference, preprocessing


@pytest.fixture(scope="module")
def trained(package) -> Aisfx:
    return load_aisfx(None, "cpu")


@pytest.fixture(scope="module")
def untrained() -> Aisfx:
    torch.manual_seed(0)
    return Aisfx().eval()


@pytest.fixture(scope="module")
def reference_net(package):
    """The package's CrossNet(EmbeddingNet('max', 3, 1, 64)) with the trained weights, strict load, eval mode."""
    inference, _ = package
    state, datasets = load_checkpoint(inference.get_path_modelWeights())
    return inference.load_bestModel(state, datasets, "cpu")


def _essentia_log_mel(es, x: np.ndarray) -> np.ndarray:
    """(frames, 96): the chain of spectrogram_essentia.compute_spectrogram with aisfx's inference settings."""
    window = es.Windowing(type="hann", zeroPadding=0, normalized=False)
    spectrum = es.Spectrum(size=2048)
    mel = es.MelBands(
        inputSize=1025,
        numberBands=96,
        sampleRate=SR,
        lowFrequencyBound=0.0,
        highFrequencyBound=22050.0,
        warpingFormula="htkMel",
        weighting="warping",
        normalize="unit_sum",
        type="power",
        log=False,
    )
    shift = es.UnaryOperator(type="identity", scale=1e4, shift=1)
    log10 = es.UnaryOperator(type="log10")
    frames = es.FrameGenerator(x.astype(np.float32), frameSize=2048, hopSize=1024, startFromZero=False)
    return np.array([log10(shift(mel(spectrum(window(frame))))) for frame in frames])


def _chirp(samples: int, f0: float = 50.0, f1: float = 20000.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(samples) / SR
    return amp * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / t[-1] * t**2))


def _noise(samples: int, seed: int, amp: float = 0.1) -> np.ndarray:
    return amp * np.random.default_rng(seed).standard_normal(samples)


def _embed(model: Aisfx, *clips: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor(np.stack(clips), dtype=torch.float32))["embedding"]


# ---------------------------------------------------------------------------------------------------
def test_mel_filterbank_matches_essentia_melbands(es) -> None:
    melbands = es.MelBands(
        inputSize=1025,
        numberBands=96,
        sampleRate=SR,
        lowFrequencyBound=0.0,
        highFrequencyBound=22050.0,
        warpingFormula="htkMel",
        weighting="warping",
        normalize="unit_sum",
        type="power",
        log=False,
    )
    unit = np.eye(1025, dtype=np.float32)
    reference = np.stack([melbands(unit[k]) for k in range(1025)], axis=1)  # (96, 1025): response to each bin
    ours = essentia_mel_filterbank()
    assert ours.shape == reference.shape == (96, 1025)
    np.testing.assert_array_equal(ours > 0, reference > 0)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-6)  # essentia builds it in float32


@pytest.mark.parametrize(
    ("kind", "atol"),
    # float32 FFT rounding in essentia: ~3e-6 on noise; up to ~3e-4 in the quietest bands of a loud chirp
    [("noise", 2e-5), ("chirp", 5e-4)],
)
def test_log_mel_matches_essentia_time_major(es, kind: str, atol: float) -> None:
    samples = 50000  # not a multiple of the hop: the last frame is zero-padded
    x = (_noise(samples, seed=1) if kind == "noise" else _chirp(samples)).astype(np.float32)
    reference = _essentia_log_mel(es, x)
    ours = Aisfx().log_mel(torch.from_numpy(x)[None])[0].numpy()
    assert ours.shape == reference.shape == (50, 96)  # (frames, bands)
    assert reference.max() > 5.0  # a loud, informative spectrogram, not near-silence
    np.testing.assert_allclose(ours, reference, rtol=0, atol=atol)


@pytest.mark.parametrize("samples", [1, 1023, 1024, 1025, 2048, 2049, 5000])
def test_frame_count_matches_essentia_framecutter(es, samples: int) -> None:
    x = _noise(samples, seed=samples).astype(np.float32)
    expected = len(_essentia_log_mel(es, x))
    assert n_frames(samples) == expected
    assert Aisfx().log_mel(torch.from_numpy(x)[None]).shape == (1, expected, 96)


@pytest.mark.parametrize(
    ("kind", "samples", "blocks"),
    [("chirp", 203000, 3), ("noise", 60000, 1), ("noise", 30000, 1)],  # 200, 60 and 31 frames
)
def test_embedding_matches_aisfx_package(es, package, trained, reference_net, kind, samples, blocks) -> None:
    _, preprocessing = package
    x = (_chirp(samples) if kind == "chirp" else _noise(samples, seed=7, amp=0.3)).astype(np.float32)
    spec = preprocessing.spectrogram_normalize(_essentia_log_mel(es, x), spec_norm="original")
    # The package's blocking (100 frames, hop 50, partial block dropped, short spectrograms zero-padded).
    # Its inference wrapper also asserts more than 50 frames, which the 31-frame clip would fail.
    chunks = preprocessing.blocking(spec, block_size=100, hop_size=50, drop_partial_block=True)
    with torch.no_grad():
        expected = reference_net.get_embedding(torch.tensor(chunks, dtype=torch.float32)).numpy()
    got = _embed(trained, x)[0].numpy()
    assert got.shape == expected.shape == (blocks, 512)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_audio_zero_padding_equals_spectrogram_zero_padding(trained) -> None:
    """Padding a short clip to min_samples (the pipeline) gives what the package's spectrogram padding gives."""
    x = torch.tensor(_noise(30000, seed=3, amp=0.3), dtype=torch.float32)[None]
    padded = F.pad(x, (0, Aisfx.min_samples - x.shape[-1]))
    with torch.no_grad():
        torch.testing.assert_close(trained(padded)["embedding"], trained(x)["embedding"], rtol=0, atol=1e-6)


def test_same_sound_type_is_closer_than_different_sounds(trained, untrained) -> None:
    samples = Aisfx.min_samples  # one block each
    t = np.arange(samples) / SR
    noise1, noise2 = _noise(samples, seed=1, amp=0.2), _noise(samples, seed=2, amp=0.2)
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    clicks = np.where(np.arange(samples) % 4410 == 0, 0.9, 0.0)  # 10 clicks per second
    clips = (noise1, noise2, tone, clicks)

    def cosines(model: Aisfx) -> np.ndarray:
        emb = F.normalize(_embed(model, *clips)[:, 0], dim=-1)
        return (emb @ emb.T).numpy()

    sim = cosines(trained)
    different = [sim[0, 2], sim[0, 3], sim[1, 2], sim[1, 3], sim[2, 3]]
    assert sim[0, 1] > 0.95
    # The trained network separates the sound types clearly; an untrained one (below) maps everything
    # close together, and wrong front ends (no min-max scaling, dB compression) push these above 0.75.
    assert max(different) < 0.72
    random_sim = cosines(untrained)
    assert min(random_sim[0, 2], random_sim[0, 3], random_sim[2, 3]) > 0.8


def test_block_count_matches_package_blocking(package) -> None:
    _, preprocessing = package
    for frames in range(51, 420):  # the package's inference asserts > 50 frames
        expected = len(preprocessing.blocking(np.zeros((frames, 96)), 100, 50, True))
        assert n_blocks(frames) == expected, frames
    assert [n_blocks(f) for f in (1, 2, 50)] == [1, 1, 1]


@pytest.mark.parametrize(
    ("samples", "blocks"),
    # frames = ceil(samples / 1024) + 1; blocks = max(1, (frames - 100) // 50 + 1), worked by hand
    [(1, 1), (100353, 1), (151553, 2), (220500, 3)],
)
def test_output_shape_for_lengths(untrained: Aisfx, samples: int, blocks: int) -> None:
    assert Aisfx.min_samples == 100353  # the shortest clip with 100 frames
    with torch.no_grad():
        out = untrained(torch.zeros(1, samples))
    assert set(out) == set(Aisfx.outputs) == {"embedding"}
    assert out["embedding"].shape == (1, blocks, 512)


def test_batched_equals_one_by_one(trained, monkeypatch) -> None:
    samples = 151553  # two blocks
    clips = [_noise(samples, seed=11, amp=0.3), _chirp(samples)]
    batched = _embed(trained, *clips)
    single = torch.cat([_embed(trained, clip) for clip in clips])
    assert batched.shape == (2, 2, 512)
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-5)
    monkeypatch.setattr(aisfx_backbone, "BLOCKS_PER_PASS", 3)  # CNN passes that split a clip's blocks
    torch.testing.assert_close(_embed(trained, *clips), batched, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------------
def test_missing_aisfx_package_is_a_one_line_error(monkeypatch) -> None:
    monkeypatch.delenv(aisfx_backbone.CHECKPOINT_ENV, raising=False)
    monkeypatch.setattr("audiometric.backbones.weights.importlib.util.find_spec", lambda name: None)
    with pytest.raises(WeightsError) as err:
        load_aisfx(None, "cpu")
    message = str(err.value)
    assert "\n" not in message
    assert "pip install --no-deps aisfx==0.1.2" in message and "--checkpoint aisfx=PATH" in message


def test_explicit_missing_checkpoint_names_the_file(tmp_path) -> None:
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(WeightsError, match="nowhere.pth") as err:
        load_aisfx(str(missing), "cpu")
    assert "\n" not in str(err.value)


def test_env_var_checkpoint_and_sha256(package, monkeypatch) -> None:
    inference, _ = package
    path = inference.get_path_modelWeights()
    monkeypatch.setenv(aisfx_backbone.CHECKPOINT_ENV, path)
    monkeypatch.setattr("audiometric.backbones.weights.importlib.util.find_spec", lambda name: None)  # env var wins
    model = load_aisfx(None, "cpu")
    with open(path, "rb") as stream:
        assert model.checkpoint_sha256 == hashlib.sha256(stream.read()).hexdigest()
    assert not model.training


def test_wrong_checkpoint_layout_is_rejected(tmp_path) -> None:
    state = {f"embedding_net.{k}": v for k, v in Aisfx().state_dict().items()}
    state["fc.0.0.weight"] = torch.zeros(256, 512)  # classifier heads are allowed and ignored
    good = tmp_path / "good.pth"
    torch.save((state, {"prosfx": (0, 78)}), good)
    assert load_aisfx(str(good), "cpu").checkpoint_sha256 is not None

    missing = dict(state)
    del missing["embedding_net.conv_block4.bn2.running_var"]
    torch.save((missing, {}), tmp_path / "missing.pth")
    with pytest.raises(WeightsError, match="conv_block4.bn2.running_var") as err:
        load_aisfx(str(tmp_path / "missing.pth"), "cpu")
    assert "\n" not in str(err.value)

    reshaped = dict(state, **{"embedding_net.conv_block1.conv1.weight": torch.zeros(64, 1, 5, 5)})
    torch.save((reshaped, {}), tmp_path / "reshaped.pth")
    with pytest.raises(WeightsError, match="wrong shapes embedding_net.conv_block1.conv1.weight"):
        load_aisfx(str(tmp_path / "reshaped.pth"), "cpu")

    stray = dict(state, **{"classifier.weight": torch.zeros(3)})
    torch.save(stray, tmp_path / "stray.pth")
    with pytest.raises(WeightsError, match="classifier.weight"):
        load_aisfx(str(tmp_path / "stray.pth"), "cpu")
