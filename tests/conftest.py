"""Shared fixtures: an isolated cache home, a WAV writer, and a small deterministic backbone."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
import torch

from audiometric.backbones.base import Backbone


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of transformers/diffusers tests (two threads on a busy 2-core machine
    were 5-10x slower); use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own AUDIOMETRIC_HOME, so no test reads or writes the user's cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AUDIOMETRIC_HOME", str(home))
    monkeypatch.setenv("AUDIOMETRIC_OFFLINE", "1")
    return home


def write_wav(path: Path, audio: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` shaped ``(samples,)`` or ``(samples, channels)`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype=subtype)
    return path


def tone_set(
    folder: Path,
    count: int,
    rate: int = 16000,
    seconds: float = 1.0,
    seed: int = 0,
    noise: float = 0.1,
    prefix: str = "clip",
) -> list[Path]:
    """``count`` short clips: a sine with a random pitch plus white noise, as 16-bit WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    paths = []
    for i in range(count):
        f0 = rng.uniform(200, 2000)
        audio = 0.5 * np.sin(2 * np.pi * f0 * t) + noise * rng.standard_normal(t.size)
        paths.append(write_wav(folder / f"{prefix}{i:03d}.wav", (audio * 0.8).astype(np.float32), rate))
    return paths


class ToyBackbone(Backbone):
    """Log-energy features of 400-sample frames through a fixed random projection (16 kHz)."""

    name: ClassVar[str] = "toy"
    sample_rate: ClassVar[int] = 16000
    min_samples: ClassVar[int] = 3200
    outputs: ClassVar[tuple[str, ...]] = ("embedding", "logits")

    def __init__(self, dim: int = 8, classes: int = 5, frame_level: bool = False):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.proj = torch.nn.Linear(40, dim)
        self.head = torch.nn.Linear(dim, classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        self.frame_level = frame_level
        self.checkpoint_sha256 = "toy-weights-v1"
        self.calls = 0

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        frames = wav.unfold(-1, 400, 160)  # (B, T, 400)
        spec = torch.fft.rfft(frames * torch.hann_window(400), dim=-1).abs()[..., :200]
        bands = torch.log(spec.reshape(*spec.shape[:-1], 40, 5).mean(-1) + 1e-3)  # (B, T, 40)
        emb = self.proj(bands)
        if not self.frame_level:
            emb = emb.mean(dim=1, keepdim=True)
        return {"embedding": emb, "logits": self.head(emb)}
