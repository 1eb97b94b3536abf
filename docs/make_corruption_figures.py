"""Draw the mel spectrograms in docs/corruptions.md: one synthetic clip before and after each corruption.

Run from the repository root: ``python docs/make_corruption_figures.py``. Writes
``docs/img/corruptions_mel.png`` and ``docs/img/event_permutation_mel.png``. Everything is synthetic
and seeded, so the figures are the same on every run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

import corruptions
from corruptions._mel import MelConfig, log_mel_db
from corruptions.event_permutation import compose

SR = 16000
OUT = Path(__file__).resolve().parent / "img"


def whistle(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A harmonic tone with vibrato and a slow amplitude swell (a stand-in for a bird or a whistle)."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 5 * t))) / SR
    tone = sum(np.sin(h * phase) / h for h in (1, 2, 3))
    envelope = np.sin(np.pi * t / seconds) ** 2
    return 0.3 * envelope * tone + 0.003 * np.random.default_rng(seed).standard_normal(t.size)


def bursts(seconds: float, rate_hz: float, seed: int) -> np.ndarray:
    """Decaying noise bursts at a regular rate (a stand-in for footsteps or knocks)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    for start in np.arange(0, n - 2000, int(SR / rate_hz)):
        out[start : start + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return 0.2 * out


def hum(seconds: float, f0: float) -> np.ndarray:
    """A steady low hum with odd harmonics (a stand-in for an engine)."""
    t = np.arange(int(seconds * SR)) / SR
    return 0.2 * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in (1, 3, 5, 7))


def sweep(seconds: float, lo: float, hi: float) -> np.ndarray:
    """A rising and falling sine sweep (a stand-in for a siren)."""
    t = np.arange(int(seconds * SR)) / SR
    f = lo + (hi - lo) * (0.5 - 0.5 * np.cos(2 * np.pi * t / seconds))
    return 0.25 * np.sin(2 * np.pi * np.cumsum(f) / SR)


def target_clip() -> np.ndarray:
    """Three seconds: a whistle over a few bursts."""
    return (whistle(3.0, 900.0, 0) + bursts(3.0, 2.0, 1)).astype(np.float32)


def write_pool(root: Path) -> corruptions.Pool:
    """A four-class pool of synthetic interferers on disk (22.05 kHz, so they are resampled)."""
    rate = 22050
    clips = {
        "engine": hum(2.0, 90.0),
        "siren": sweep(2.0, 600.0, 1400.0),
        "knock": bursts(2.0, 3.0, 5),
        "hiss": 0.05 * np.random.default_rng(6).standard_normal(2 * SR),
    }
    for label, audio in clips.items():
        (root / label).mkdir(parents=True)
        sf.write(
            root / label / "a.wav",
            np.interp(np.arange(int(audio.size * rate / SR)) * SR / rate, np.arange(audio.size), audio).astype(
                np.float32
            ),
            rate,
        )
    return corruptions.Pool.from_path(root)


def show(ax, audio: np.ndarray, title: str, vmin: float, vmax: float) -> None:
    """Log-mel (dB) of ``audio`` on the corruptions' default grid."""
    mel = log_mel_db(np.atleast_2d(audio).astype(np.float64), SR, MelConfig())[0]
    frames = mel.shape[1]
    ax.imshow(
        mel,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=vmin,
        vmax=vmax,
        extent=(0, frames * MelConfig().hop_length / SR, 0, mel.shape[0]),
    )
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("mel band", fontsize=8)
    ax.tick_params(labelsize=7)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clip = target_clip()
    with tempfile.TemporaryDirectory() as tmp:
        pool = write_pool(Path(tmp))
        runs = [
            ("original", clip),
            (
                "gaussian_noise, severity 0.1 (10 dB SNR)",
                corruptions.get("gaussian_noise").apply(clip, SR, np.random.default_rng(0), 0.1)[0],
            ),
            (
                "mel_noise, severity 6 dB",
                corruptions.get("mel_noise").apply(clip, SR, np.random.default_rng(0), 6.0)[0],
            ),
            (
                "mel_mask time, severity 0.2",
                corruptions.get("mel_mask").apply(clip, SR, np.random.default_rng(0), 0.2, mode="time")[0],
            ),
            (
                "mel_mask freq, severity 0.2",
                corruptions.get("mel_mask").apply(clip, SR, np.random.default_rng(0), 0.2, mode="freq")[0],
            ),
            (
                "mel_mask patch, severity 0.2",
                corruptions.get("mel_mask").apply(clip, SR, np.random.default_rng(0), 0.2, mode="patch")[0],
            ),
            (
                "interference, severity 2 (0 dB each)",
                corruptions.get("interference").apply(
                    clip, SR, np.random.default_rng(0), 2, pool=pool, target_label="whistle"
                )[0],
            ),
        ]
    peak = max(log_mel_db(np.atleast_2d(a).astype(np.float64), SR, MelConfig()).max() for _, a in runs)
    fig, axes = plt.subplots(len(runs), 1, figsize=(7, 1.6 * len(runs)), sharex=True)
    for ax, (title, audio) in zip(axes, runs):
        show(ax, audio, title, peak - 80, peak)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "corruptions_mel.png", dpi=80)
    plt.close(fig)

    events = [whistle(0.8, 700.0, 2), hum(0.8, 120.0), sweep(0.8, 500.0, 2000.0), bursts(0.8, 4.0, 3)]
    events = [e.astype(np.float32) for e in events]
    reference, _ = compose(events, SR, gap_s=0.1)
    permuted, record = corruptions.get("event_permutation").apply(
        reference, SR, np.random.default_rng(1), 4, events=events, gap_s=0.1
    )
    names = ["whistle", "hum", "sweep", "bursts"]
    fig, axes = plt.subplots(2, 1, figsize=(7, 3.4), sharex=True)
    show(axes[0], reference, "reference: " + " | ".join(names), peak - 80, peak)
    show(
        axes[1],
        permuted,
        "event_permutation, severity 4: " + " | ".join(names[i] for i in record["order"]),
        peak - 80,
        peak,
    )
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "event_permutation_mel.png", dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
