"""How much each step of audioldm_eval's FAD input path moves FAD, measured one step at a time.

For three synthetic set pairs (16 kHz mono PCM_16; 44.1 kHz stereo PCM_16; mixed rates and lengths 0.5-12 s,
some clips shorter than one VGGish patch), FAD is computed on VGGish's front end (log-mel patches, per
spec) followed by a seeded random projection to 16 dimensions and ``tanh`` in place of the trained CNN
(the real weights cannot be downloaded here, and a randomly initialised VGGish maps every patch to almost
the same point, FAD ~1e-5, so magnitudes are indicative only) under ``--compat``'s input
(:func:`audiometric.audio.preprocess.compat_fad`), then with one step switched to audiometric's default:
DC removal on, channel 0 instead of the channel mean, the sinc resampler instead of resampy
``kaiser_best``, short clips zero-padded instead of left out, and finally all steps at once (the default
path). Prints FAD and the relative difference to the compat value. Fréchet arithmetic is the same
(``compat=True``, scipy ``sqrtm``) in every row, so only the input differs.

A last line compares ``--compat``'s FAD with FAD on an independent numpy/resampy re-derivation of
audioldm_eval's input, on the sets and helpers of ``tests/test_compat_fad.py`` (which asserts <= 1e-4).

Usage: ``python benchmarks/fad_input_steps.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric.audio.preprocess import Preprocess, compat_fad
from audiometric.backbones.vggish import VGGish
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.clipset import extract_folder
from audiometric.extraction.extract import Extractor
from audiometric.metrics import frechet_from_features

SCENARIOS = {
    "16 kHz mono": [(16000, 1, 4.0)] * 10,
    "44.1 kHz stereo": [(44100, 2, 4.0)] * 10,
    "mixed 0.5-12 s": [
        (16000, 1, 0.5),
        (22050, 2, 12.0),
        (32000, 1, 2.0),
        (44100, 2, 0.6),
        (48000, 1, 3.0),
        (16000, 2, 6.0),
        (22050, 1, 0.8),
        (44100, 1, 5.0),
        (48000, 2, 1.5),
        (32000, 2, 4.0),
    ],
}


def write_set(folder: Path, specs: list[tuple[int, int, float]], seed: int) -> None:
    """16-bit PCM clips: a tone with harmonics, noise, a DC offset, and a different second channel."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i, (rate, channels, seconds) in enumerate(specs):
        t = np.arange(int(rate * seconds)) / rate
        f0 = rng.uniform(150, 1500)
        left = (
            0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 3 * f0 * t) + 0.03 * rng.standard_normal(t.size)
        )
        left += rng.uniform(-0.05, 0.05)  # a DC offset, as real recordings have
        right = 0.5 * left + 0.2 * np.sin(2 * np.pi * rng.uniform(2000, 6000) * t)
        audio = np.stack([left, right], 1) if channels == 2 else left
        sf.write(folder / f"c{i:02d}.wav", np.clip(audio, -1, 1), rate, subtype="PCM_16")


class FrontEndProjection(VGGish):
    """VGGish's log-mel patches through a fixed random projection (16-d, seed 0) and tanh."""

    def __init__(self, dim: int = 16):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("proj", torch.randn(96 * 64, dim, generator=gen) / 40, persistent=False)

    def embed_patches(self, patches: torch.Tensor) -> torch.Tensor:
        return torch.tanh(patches.reshape(patches.shape[0], -1) @ self.proj)


def fad(gen: Path, ref: Path, model: VGGish, view: Preprocess) -> tuple[float, int]:
    """FAD of ``gen`` against ``ref`` with VGGish fed ``view``; also the clips left out of the generated set."""
    ex = Extractor(
        backbones={"vggish": model},
        device=torch.device("cpu"),
        pre=view,
        cache=EmbeddingCache(None),
        batch_size=8,
        workers=0,
        progress=False,
    )
    sets = [extract_folder(str(folder), ex) for folder in (gen, ref)]
    rows = [np.concatenate(s.rows("vggish", "embedding")) for s in sets]
    return frechet_from_features(rows[0], rows[1], compat=True), len(sets[0].excluded().get("vggish", []))


def main() -> None:
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")  # N <= d warnings of the short sets; the rows below are what is measured
    model = FrontEndProjection().eval()
    compat = compat_fad(Preprocess())
    steps = [
        ("compat (audioldm_eval input)", compat),
        ("+ DC removal", replace(compat, remove_dc=True)),
        ("channel 0, not channel mean", replace(compat, channels="first")),
        ("sinc, not resampy kaiser_best", replace(compat, resampler="sinc")),
        ("short clips padded, not dropped", replace(compat, short="pad")),
        ("all: audiometric default", Preprocess()),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for scenario, specs in SCENARIOS.items():
            gen, ref = Path(tmp) / scenario / "gen", Path(tmp) / scenario / "ref"
            write_set(gen, specs, 1)
            write_set(ref, specs, 2)
            base = None
            print(f"\n{scenario} (10 generated vs 10 reference clips, 16-bit PCM, 16-d front-end projection)")
            for label, view in steps:
                value, left_out = fad(gen, ref, model, view)
                base = value if base is None else base
                print(
                    f"  {label:<33} FAD {value:12.6f}  rel. diff {abs(value / base - 1):9.2e}  "
                    f"generated clips left out {left_out}"
                )
        compat_vs_reference(Path(tmp) / "check")


def compat_vs_reference(root: Path) -> None:
    """``--compat`` FAD vs FAD on the test suite's re-derivation of audioldm_eval's input (same network)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import test_compat_fad as t

    gen, ref = t._set(root / "gen", 1, 12.0), t._set(root / "ref", 2, 5.0)
    model = t.SeededVGGish().eval()
    expected = t._frechet(t._audioldm_eval_rows(gen, model)[0], t._audioldm_eval_rows(ref, model)[0])
    views = {"vggish": compat_fad(Preprocess())}
    got = [np.concatenate(t._extract(folder, views, model).rows("vggish", "embedding")) for folder in (gen, ref)]
    plain = [np.concatenate(t._extract(folder, None, model).rows("vggish", "embedding")) for folder in (gen, ref)]
    value, default = frechet_from_features(*got, compat=True), frechet_from_features(*plain, compat=True)
    print(
        f"\ncompat vs re-derived audioldm_eval input (tests/test_compat_fad.py sets, 11 vs 11 clips, "
        f"16-48 kHz, 0.5-12 s): FAD {value:.8f} vs {expected:.8f}, rel. diff {abs(value / expected - 1):.2e}; "
        f"default path {default:.8f}, rel. diff {abs(default / expected - 1):.2e}"
    )


if __name__ == "__main__":
    main()
