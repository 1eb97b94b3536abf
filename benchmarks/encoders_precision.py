"""bf16 against fp32 for a transformers encoder on the CPU, on the bundled example (random weights).

Builds a small random ``ASTForAudioClassification`` (4 blocks of 192, the official 128 x 1024 input),
runs the bundled example's 24 clips (resampled to 16 kHz by audiometric, features by ``ASTFeatureExtractor``,
as ``ast-audioset`` does) once in float32 and once with the model and its input cast to bfloat16, and
prints the largest relative difference of the pooled embedding and the logits and the time ratio.
Random weights say something about the arithmetic, nothing about the trained model's tolerance.

Usage: ``python benchmarks/encoders_precision.py [EXAMPLE_DIR]`` (default: written to a temporary folder).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import transformers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from make_example import main as make_example  # noqa: E402

from audiometric.audio.resample import resample  # noqa: E402


def clips(folder: Path) -> np.ndarray:
    """Every WAV under ``folder`` at 16 kHz, shape ``(n, samples)`` float32."""
    rows = []
    for path in sorted(folder.rglob("*.wav")):
        audio, rate = sf.read(path, dtype="float32")
        rows.append(resample(torch.from_numpy(audio), rate, 16000).numpy())
    return np.stack(rows)


def run(model: torch.nn.Module, inputs: torch.Tensor, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray, float]:
    """Pooled embedding and logits (float64) of ``inputs`` with the model in ``dtype``, and seconds taken."""
    model = model.to(dtype)
    start = time.perf_counter()
    with torch.no_grad():
        pooled = model.audio_spectrogram_transformer(inputs.to(dtype)).pooler_output
        logits = model.classifier(pooled)
    seconds = time.perf_counter() - start
    return pooled.double().numpy(), logits.double().numpy(), seconds


def main() -> None:
    torch.manual_seed(0)
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "example"
    if not folder.exists():
        make_example(folder)
    wav = clips(folder)
    config = transformers.ASTConfig(hidden_size=192, num_hidden_layers=4, num_attention_heads=3, intermediate_size=768)
    model = transformers.ASTForAudioClassification(config).eval()
    inputs = transformers.ASTFeatureExtractor()(list(wav), sampling_rate=16000, return_tensors="pt")["input_values"]
    emb32, log32, t32 = run(model, inputs, torch.float32)
    emb16, log16, t16 = run(model, inputs, torch.bfloat16)
    for label, a, b in (("embedding", emb32, emb16), ("logits", log32, log16)):
        print(f"{label:<10} max |bf16 - fp32| / max |fp32| = {np.abs(b - a).max() / np.abs(a).max():.2e}")
    print(
        f"clips {len(wav)}, threads {torch.get_num_threads()}: fp32 {t32:.2f} s, bf16 {t16:.2f} s, ratio {t32 / t16:.2f}"
    )


if __name__ == "__main__":
    main()
