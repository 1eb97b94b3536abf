"""The torch resampler against a direct evaluation of the published sinc_interp_hann formula."""

import math

import numpy as np
import pytest
import torch

from audiometric.audio.resample import resample


def direct(x: np.ndarray, orig: int, new: int, zeros: int = 6, rolloff: float = 0.99) -> np.ndarray:
    """y[n] = Σ_i x[i]·(b/f_in)·sinc(π t)·cos²(π t / 2W), t = (i/f_in − n/f_out)·b, |t| ≤ W (float64 loops)."""
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    base = min(orig, new) * rolloff
    out = np.zeros(math.ceil(new * len(x) / orig))
    i = np.arange(len(x))
    for n in range(len(out)):
        t = (i / orig - n / new) * base
        inside = np.abs(t) <= zeros
        tt = t[inside]
        h = np.sinc(tt) * np.cos(np.pi * tt / (2 * zeros)) ** 2 * (base / orig)
        out[n] = np.dot(x[inside], h)
    return out


@pytest.mark.parametrize("orig,new", [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 32000), (96000, 44100)])
def test_matches_direct_formula(orig, new):
    rng = np.random.default_rng(orig + new)
    x = rng.standard_normal(900)
    ours64 = resample(torch.from_numpy(x), orig, new).numpy()
    ref = direct(x, orig, new)
    assert ours64.shape == ref.shape
    np.testing.assert_allclose(ours64, ref, atol=1e-10)
    # float32 input: the kernel is built in float32 as the reference does; its phase rounding
    # costs up to ~1e-4 for large reduced rates (22050→32000 is 441→640)
    ours32 = resample(torch.from_numpy(x.astype(np.float32)), orig, new).numpy()
    np.testing.assert_allclose(ours32, ref, atol=2e-4)


def test_output_length_is_ceil_and_identity_when_equal():
    x = torch.randn(2, 1001)
    assert resample(x, 16000, 16000) is x
    assert resample(x, 44100, 16000).shape == (2, math.ceil(1001 * 160 / 441))
    assert resample(x, 16000, 44100).shape == (2, math.ceil(1001 * 441 / 160))


def test_hand_checked_dc_and_band_behaviour():
    # DC away from the edges: the gain is Σ taps, ≈ 1 (rolloff 0.99 and the Hann taper cost < 0.1 %)
    dc = resample(torch.ones(48000, dtype=torch.float64), 48000, 16000)
    assert abs(dc[200:-200].mean().item() - 1.0) < 1e-3
    # a 1 kHz sine passes with its amplitude; a 10 kHz sine (above the new 8 kHz Nyquist) is removed
    t = torch.arange(48000, dtype=torch.float64) / 48000
    low = resample(torch.sin(2 * math.pi * 1000 * t), 48000, 16000)[500:-500]
    high = resample(torch.sin(2 * math.pi * 10000 * t), 48000, 16000)[500:-500]
    assert abs(low.abs().max().item() - 1.0) < 2e-3
    assert high.abs().max().item() < 0.02


def test_batched_leading_dims_equal_per_row():
    x = torch.randn(3, 2, 777)
    y = resample(x, 22050, 16000)
    for a in range(3):
        for b in range(2):
            torch.testing.assert_close(y[a, b], resample(x[a, b], 22050, 16000), rtol=0, atol=1e-6)


@pytest.mark.parametrize("orig,new", [(44100, 16000), (48000, 16000), (22050, 32000), (8000, 16000)])
def test_streamed_blocks_equal_the_whole_signal_bit_for_bit(orig, new):
    """Long inputs go through the polyphase convolution block by block with overlap: the same output."""
    x = torch.randn(2, 3001)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny convolutions: thread hand-offs would dominate on a busy machine
    try:
        whole = resample(x, orig, new, stream_blocks=1 << 30)
        for blocks in (2, 7, 250):
            assert torch.equal(resample(x, orig, new, stream_blocks=blocks), whole)
    finally:
        torch.set_num_threads(threads)
