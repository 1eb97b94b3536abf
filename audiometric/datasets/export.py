"""Reference sets: dataset clips as 16 kHz mono PCM_16 WAVs of a fixed duration, named ``{clip_id}.wav``.

The generator names its outputs the same way, so ``audiometric score GEN REF`` pairs every generated clip
with the reference it was conditioned on (KL is defined on such pairs).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from audiometric.audio.decode import decode, read_and_hash
from audiometric.audio.files import WRITTEN_BY
from audiometric.audio.resample import resample
from audiometric.datasets.base import Item
from audiometric.errors import AudioDecodeError, AudiometricError
from audiometric.runtime.atomic import atomic_write, atomic_write_text

#: The rate of AudioLDM's vocoder and of the paper's evaluation (Hz).
RATE = 16000


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """(float32 mono waveform (samples,), sample rate Hz) of an audio file; channels are averaged."""
    try:
        data, sha = read_and_hash(path)
        decoded = decode(data, sha)
    except AudioDecodeError as err:
        raise AudiometricError(f"{path}: {err}; replace the file or leave it out of the dataset") from None
    return decoded.audio.mean(axis=0, dtype=np.float32), decoded.sample_rate


def fit(wave: np.ndarray, rate: int, duration: float | None, target_rate: int = RATE) -> np.ndarray:
    """Resample to ``target_rate`` (windowed sinc) and cut or zero-pad to ``duration`` seconds (None: keep)."""
    out = resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None], rate, target_rate)[0]
    out = out.numpy()
    if duration is None:
        return out
    samples = int(round(duration * target_rate))
    return out[:samples] if out.shape[0] >= samples else np.pad(out, (0, samples - out.shape[0]))


def write_pcm16(path: Path, wave: np.ndarray, rate: int = RATE) -> Path:
    """Write ``wave`` (samples,) as 16-bit PCM WAV atomically; values beyond [-1, 1] are clipped."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(wave, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def export(
    items: list[Item],
    out: str | Path,
    duration: float | None = 10.24,
    provenance: dict | None = None,
    progress: bool = True,
) -> dict:
    """Write each item's audio as ``out/{clip_id}.wav`` (16 kHz, PCM_16, ``duration`` s) and ``out/export.json``.

    Files already present are kept (an interrupted export resumes); returns the record written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "export.json"
    record = {
        WRITTEN_BY: "audiometric datasets export",
        **(provenance or {}),
        "sample_rate": RATE,
        "duration": duration,
        "subtype": "PCM_16",
    }
    if record_path.exists():
        old = json.loads(record_path.read_text())
        changed = [k for k in ("dataset", "split", "duration", "eval_size", "seed") if old.get(k) != record.get(k)]
        if changed:
            raise AudiometricError(
                f"--out {out} holds an export with another {changed[0]} ({old.get(changed[0])!r}, "
                f"now {record.get(changed[0])!r}); choose another --out or remove it"
            )
    for item in tqdm(items, desc="export", unit="clip", disable=not progress):
        target = out / f"{item.clip_id}.wav"
        if not target.exists():
            wave, rate = read_mono(item.path)
            write_pcm16(target, fit(wave, rate, duration))
    record["clips"] = {
        item.clip_id: {"source": str(item.path), "label": item.label, "prompt": item.prompt, "split": item.split}
        for item in items
    }
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    return record
