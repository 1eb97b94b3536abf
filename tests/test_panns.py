"""PANNs Cnn14: checkpoint layout, loading, front end against numpy/librosa, head maths, FLOP count."""

from __future__ import annotations

import hashlib
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.signal
import torch
from torch.utils.flop_counter import FlopCounterMode

from audiometric import backbones
from audiometric.backbones.panns import (
    CONFIGS,
    Cnn14,
    Cnn14At16k,
    Cnn14At32k,
    cnn14_flops,
    load_cnn14_16k,
    load_cnn14_32k,
)
from audiometric.errors import WeightsError

# Official Cnn14 (Kong et al. 2020, Table I; audioset_tagging_cnn pytorch/models.py), written out by hand.
_WIDTHS = [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 2048)]
_PUBLISHED_TRAINABLE = 80_753_615  # "Parameters" of Cnn14 in the PANNs paper / audioset_tagging_cnn README


def _bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (channels,),
        f"{prefix}.bias": (channels,),
        f"{prefix}.running_mean": (channels,),
        f"{prefix}.running_var": (channels,),
        f"{prefix}.num_batches_tracked": (),
    }


def _official_layout(n_fft: int) -> dict[str, tuple[int, ...]]:
    bins = n_fft // 2 + 1
    layout = {
        "spectrogram_extractor.stft.conv_real.weight": (bins, 1, n_fft),
        "spectrogram_extractor.stft.conv_imag.weight": (bins, 1, n_fft),
        "logmel_extractor.melW": (bins, 64),
        **_bn("bn0", 64),
    }
    for i, (c_in, c_out) in enumerate(_WIDTHS, start=1):
        layout[f"conv_block{i}.conv1.weight"] = (c_out, c_in, 3, 3)
        layout[f"conv_block{i}.conv2.weight"] = (c_out, c_out, 3, 3)
        layout.update(_bn(f"conv_block{i}.bn1", c_out))
        layout.update(_bn(f"conv_block{i}.bn2", c_out))
    layout.update(
        {"fc1.weight": (2048, 2048), "fc1.bias": (2048,), "fc_audioset.weight": (527, 2048), "fc_audioset.bias": (527,)}
    )
    return layout


def _randomise_norms(model: Cnn14, seed: int) -> Cnn14:
    """Non-trivial batch-norm statistics and affines, so folding/normalisation is actually exercised."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if key.endswith("running_var") or (key.endswith(".weight") and tensor.dim() == 1):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            elif key.endswith(("running_mean", ".bias")) and not key.startswith("fc"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=gen))
            elif key.endswith("num_batches_tracked"):
                tensor.fill_(7)
    return model.eval()


@pytest.fixture(scope="module")
def cnn16() -> Cnn14:
    torch.manual_seed(0)
    return _randomise_norms(Cnn14At16k(), seed=1)


@pytest.fixture(scope="module")
def cnn32() -> Cnn14:
    torch.manual_seed(2)
    return _randomise_norms(Cnn14At32k(), seed=3)


def _audio(samples: int, rate: int, seed: int, batch: int = 1) -> torch.Tensor:
    """White noise plus a 440 Hz tone, ``(batch, samples)`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    wav = 0.1 * rng.standard_normal((batch, samples)) + 0.3 * np.sin(2 * np.pi * 440.0 * t)
    return torch.from_numpy(wav.astype(np.float32))


def _numpy_logmel(wav: np.ndarray, rate: int, n_fft: int, hop: int, fmin: float, fmax: float) -> np.ndarray:
    """Reference log-mel: reflect-padded frames, periodic Hann, np.fft.rfft, librosa Slaney mel, 10 log10."""
    padded = np.pad(wav.astype(np.float64), n_fft // 2, mode="reflect")
    starts = np.arange(0, padded.size - n_fft + 1, hop)
    frames = padded[starts[:, None] + np.arange(n_fft)] * scipy.signal.get_window("hann", n_fft, fftbins=True)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    mel = power @ librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=64, fmin=fmin, fmax=fmax).T
    return 10.0 * np.log10(np.maximum(mel, 1e-10))


def test_class_attributes_follow_backbone_protocol() -> None:
    for cls, rate in ((Cnn14At16k, 16000), (Cnn14At32k, 32000)):
        assert cls.sample_rate == rate and cls.config.sample_rate == rate
        assert cls.min_samples == 32000  # audioldm_eval's pad_short_audio floor
        assert cls.outputs == ("embedding", "logits")
    assert (Cnn14At16k.name, Cnn14At32k.name) == ("panns-cnn14-16k", "panns-cnn14-32k")
    assert backbones.loader("panns-cnn14-16k") is load_cnn14_16k
    assert backbones.loader("panns-cnn14-32k") is load_cnn14_32k


def test_state_dict_is_the_official_16k_layout(cnn16: Cnn14) -> None:
    state = cnn16.state_dict()
    expected = _official_layout(512)
    assert len(expected) == 84
    assert list(state) == list(expected)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in cnn16.parameters() if p.requires_grad) == _PUBLISHED_TRAINABLE
    frozen = {name for name, p in cnn16.named_parameters() if not p.requires_grad}
    assert frozen == {
        "spectrogram_extractor.stft.conv_real.weight",
        "spectrogram_extractor.stft.conv_imag.weight",
        "logmel_extractor.melW",
    }


def test_32k_layout_and_output_shapes(cnn32: Cnn14) -> None:
    assert {k: tuple(v.shape) for k, v in cnn32.state_dict().items()} == _official_layout(1024)
    wav = _audio(32000, 32000, seed=4, batch=2)
    with torch.inference_mode():
        assert cnn32.logmel(wav).shape == (2, 1 + 32000 // 320, 64)
        out = cnn32(wav)
    assert out["embedding"].shape == (2, 1, 2048) and out["logits"].shape == (2, 1, 527)
    assert torch.all(out["embedding"] >= 0) and torch.isfinite(out["logits"]).all()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fresh_front_end_is_built_from_the_formulas(name: str, cnn16: Cnn14, cnn32: Cnn14) -> None:
    model = cnn16 if name.endswith("16k") else cnn32
    cfg = CONFIGS[name]
    # rfft of each windowed unit impulse: column n holds hann[n] * exp(-2πi k n / N) for every bin k.
    window = scipy.signal.get_window("hann", cfg.window, fftbins=True)
    dft = np.fft.rfft(np.diag(window), axis=0)  # (bins, n_fft)
    stft = model.spectrogram_extractor.stft
    np.testing.assert_allclose(stft.conv_real.weight[:, 0].numpy(), dft.real, atol=1e-6)
    np.testing.assert_allclose(stft.conv_imag.weight[:, 0].numpy(), dft.imag, atol=1e-6)
    mel = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.window, n_mels=64, fmin=cfg.fmin, fmax=cfg.fmax)
    np.testing.assert_allclose(model.logmel_extractor.melW.numpy(), mel.T, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logmel_equals_numpy_reference(name: str, cnn16: Cnn14, cnn32: Cnn14) -> None:
    model = cnn16 if name.endswith("16k") else cnn32
    cfg = model.config
    samples = cfg.sample_rate // 2
    wav = _audio(samples, cfg.sample_rate, seed=5)
    reference = _numpy_logmel(wav[0].numpy(), cfg.sample_rate, cfg.window, cfg.hop, cfg.fmin, cfg.fmax)
    with torch.inference_mode():
        single = model.logmel(wav)[0].numpy()
    assert single.shape == reference.shape == (1 + samples // cfg.hop, 64)
    np.testing.assert_allclose(single, reference, atol=2e-4)  # dB; float32 DFT sums over a whole window
    front = (model.spectrogram_extractor, model.logmel_extractor)
    try:  # the same maths in float64 agrees to rounding: the float32 gap above is precision, not formula
        for module in front:
            module.double()
        with torch.inference_mode():
            double = model.logmel(wav.double())[0].numpy()
    finally:
        for module in front:
            module.float()  # float32 -> float64 -> float32 is exact
    np.testing.assert_allclose(double, reference, atol=1e-6)


@pytest.mark.slow
def test_head_matches_a_direct_computation(cnn16: Cnn14) -> None:
    wav = _audio(32000, 16000, seed=6, batch=2)
    with torch.inference_mode():
        out = cnn16(wav)
        feats = cnn16.features(cnn16.logmel(wav))
    assert feats.shape == (2, 2048, (1 + 32000 // 160) // 32, 2)
    pooled = feats.double().mean(dim=3)  # (batch, 2048, frames)
    pooled = pooled.max(dim=2).values + pooled.mean(dim=2)
    w1, b1 = cnn16.fc1.weight.double(), cnn16.fc1.bias.double()
    embedding = torch.clamp(pooled @ w1.T + b1, min=0.0)
    logits = embedding @ cnn16.fc_audioset.weight.double().T + cnn16.fc_audioset.bias.double()
    torch.testing.assert_close(out["embedding"][:, 0].double(), embedding, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["logits"][:, 0].double(), logits, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_folded_fast_path_equals_official_op_order(cnn16: Cnn14) -> None:
    wav = _audio(32000, 16000, seed=7, batch=2)
    official = cnn16(wav)  # autograd on: conv -> BN -> ReLU exactly as the reference
    with torch.inference_mode():
        fast = cnn16(wav)  # BN folded into the convs, channels-last
    for key in ("embedding", "logits"):
        scale = official[key].abs().max().item()
        torch.testing.assert_close(fast[key], official[key].detach(), rtol=1e-5, atol=1e-5 * scale)
    var = cnn16.conv_block3.bn2.running_var
    saved = var.clone()
    try:  # an in-place weight change must invalidate the folded copy
        with torch.no_grad():
            var.mul_(4.0)
        changed = cnn16(wav)
        with torch.inference_mode():
            fast_changed = cnn16(wav)
        assert not torch.allclose(changed["embedding"], official["embedding"])
        torch.testing.assert_close(
            fast_changed["embedding"],
            changed["embedding"].detach(),
            rtol=1e-5,
            atol=1e-5 * changed["embedding"].abs().max().item(),
        )
    finally:
        with torch.no_grad():
            var.copy_(saved)


@pytest.mark.slow
def test_model_built_in_inference_mode_follows_load_state_dict(cnn16: Cnn14) -> None:
    wav = _audio(32000, 16000, seed=11)
    with torch.inference_mode():
        torch.manual_seed(12)
        model = Cnn14At16k().eval()  # inference tensors: no version counters to watch
        before = model(wav)["embedding"]
        model.load_state_dict(cnn16.state_dict())
        after = model(wav)["embedding"]
        expected = cnn16(wav)["embedding"]
    assert not torch.allclose(before, expected)
    assert torch.equal(after, expected)


@pytest.mark.slow
def test_batched_equals_one_by_one(cnn16: Cnn14) -> None:
    wav = _audio(32000, 16000, seed=8, batch=3)
    with torch.inference_mode():
        batched = cnn16(wav)
        single = [cnn16(wav[i : i + 1]) for i in range(3)]
    for key in ("embedding", "logits"):
        stacked = torch.cat([s[key] for s in single])
        torch.testing.assert_close(batched[key], stacked, rtol=1e-5, atol=1e-5 * stacked.abs().max().item())


@pytest.mark.slow
@pytest.mark.parametrize("samples", [32000, 32159])
def test_flop_count_matches_torch_flop_counter(cnn16: Cnn14, cnn32: Cnn14, samples: int) -> None:
    for model in (cnn16, cnn32):
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(_audio(samples, model.sample_rate, seed=9))
        assert cnn14_flops(samples, model.config) == counter.get_total_flops()
    assert cnn14_flops(160000, "panns-cnn14-16k") == cnn14_flops(160000, CONFIGS["panns-cnn14-16k"])


@pytest.mark.slow
def test_checkpoint_round_trip(cnn16: Cnn14, tmp_path: Path) -> None:
    wav = _audio(32000, 16000, seed=10, batch=2)
    with torch.inference_mode():
        expected = cnn16(wav)
    sampler = {
        "indexes_per_class": [np.arange(4, dtype=np.int64), np.array([2, 9])],
        "queue": [np.int64(3), 1],
        "weights": np.linspace(0, 1, 5, dtype=np.float32),
    }
    path = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    torch.save({"model": cnn16.state_dict(), "iteration": 0, "sampler": sampler}, path)
    loaded = backbones.load("panns-cnn14-16k", checkpoint=str(path))  # -> load_cnn14_16k
    assert not loaded.training and isinstance(loaded, Cnn14At16k)
    assert loaded.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sum(p.numel() for p in loaded.parameters() if p.requires_grad) == _PUBLISHED_TRAINABLE
    with torch.inference_mode():
        got = loaded(wav)
    for key in ("embedding", "logits"):
        assert torch.equal(got[key], expected[key])


def _expect_one_line(call, *fragments: str) -> str:
    with pytest.raises(WeightsError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def _cheap(shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor of ``shape`` backed by one stored element (saved files stay tiny)."""
    return torch.zeros(()).expand(shape)


def test_layout_mismatches_are_one_line_errors(tmp_path: Path) -> None:
    layout = _official_layout(512)
    cases = {
        "missing": ({k: _cheap(s) for k, s in layout.items() if k != "fc1.bias"}, ("missing keys fc1.bias",)),
        "unexpected": (
            {**{k: _cheap(s) for k, s in layout.items()}, "fc2.weight": torch.zeros(1)},
            ("unexpected keys fc2.weight",),
        ),
        "shapes": (
            {k: torch.zeros(1) for k in layout},
            ("wrong shapes spectrogram_extractor.stft.conv_real.weight (1,) != (257, 1, 512)", "(+80 more)"),
        ),
        "bare-dataparallel": (
            {f"module.{k}": _cheap((3,) if k == "fc1.bias" else s) for k, s in layout.items()},
            ("(wrong shapes fc1.bias (3,) != (2048,));",),
        ),  # prefix gone, nothing else wrong
        "32k-as-16k": (
            {k: _cheap(s) for k, s in _official_layout(1024).items()},
            ("logmel_extractor.melW (513, 64) != (257, 64)",),
        ),
    }
    for label, (state, fragments) in cases.items():
        path = tmp_path / f"{label}.pth"
        torch.save(state if label.startswith("bare") else {"model": state, "iteration": 0}, path)
        _expect_one_line(lambda: load_cnn14_16k(str(path), "cpu"), str(path), "panns-cnn14-16k", *fragments)
    not_a_state_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], not_a_state_dict)
    _expect_one_line(lambda: load_cnn14_32k(str(not_a_state_dict), "cpu"), str(not_a_state_dict), "not a Cnn14")


def test_missing_weights_offline_is_a_weights_error() -> None:
    # conftest isolates the cache and sets AUDIOMETRIC_OFFLINE, so nothing can be found or fetched
    _expect_one_line(lambda: load_cnn14_16k(None, "cpu"), "Cnn14_16k_mAP=0.438.pth")
