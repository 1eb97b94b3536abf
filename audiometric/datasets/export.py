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
from audiometric.errors import AudioDecodeError, DataError
from audiometric.runtime.atomic import atomic_write, atomic_write_text
from audiometric.runtime.outputs import RunFolder, run_folder

#: The rate of AudioLDM's vocoder and of the paper's evaluation (Hz).
RATE = 16000


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """(float32 mono waveform (samples,), sample rate Hz) of an audio file; channels are averaged."""
    try:
        data, sha = read_and_hash(path)
        decoded = decode(data, sha)
    except AudioDecodeError as err:
        raise DataError(f"{path}: {err}; replace the file or leave it out of the dataset") from None
    return decoded.audio.mean(axis=0, dtype=np.float32), decoded.sample_rate


def fit(wave: np.ndarray, rate: int, duration: float | None, target_rate: int = RATE) -> np.ndarray:
    """Resample to ``target_rate`` (windowed sinc) and cut or zero-pad to ``duration`` seconds (None: keep)."""
    tensor = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
    out = resample(tensor, rate, target_rate)[0].numpy()
    if duration is None:
        return out
    samples = int(round(duration * target_rate))
    return out[:samples] if out.shape[0] >= samples else np.pad(out, (0, samples - out.shape[0]))


def write_pcm16(path: Path, wave: np.ndarray, rate: int = RATE) -> Path:
    """Write ``wave`` (samples,) as 16-bit PCM WAV atomically; values beyond [-1, 1] are clipped."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(wave, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


#: The provenance keys that, with the duration, decide an export's WAVs (a run's identity for resuming).
SELECTION = ("dataset", "data_dir", "split", "eval_size", "seed")


def check_out(
    items: list[Item], out: str | Path, duration: float | None, provenance: dict, overwrite: bool = False
) -> RunFolder:
    """``out`` checked by the output policy before any work: this export's folder to resume, a new one, or an
    error naming the run that wrote it (never a folder holding the dataset's audio)."""
    settings = {"duration": duration, "sample_rate": RATE, **{key: provenance.get(key) for key in SELECTION}}
    inputs = [provenance.get("data_dir"), *(item.path for item in items)]
    return run_folder(out, command="datasets export", settings=settings, inputs=inputs, overwrite=overwrite)


def export(
    items: list[Item],
    out: str | Path,
    duration: float | None = 10.24,
    provenance: dict | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Write each item's audio as ``out/{clip_id}.wav`` (16 kHz, PCM_16, ``duration`` s) and ``out/export.json``.

    An interrupted export resumes (its finished files are kept); ``out`` follows the output policy
    (:func:`check_out`; ``overwrite`` takes over a folder of another run). Returns the record written.
    """
    folder = check_out(items, out, duration, provenance or {}, overwrite)
    record = {
        WRITTEN_BY: "audiometric datasets export",
        **(provenance or {}),
        "sample_rate": RATE,
        "duration": duration,
        "subtype": "PCM_16",
    }
    folder.claim()
    for item in tqdm(items, desc="export", unit="clip", disable=not progress):
        target = folder.path / f"{item.clip_id}.wav"
        if not (folder.resume and target.exists()):
            wave, rate = read_mono(item.path)
            write_pcm16(target, fit(wave, rate, duration))
    record["clips"] = {
        item.clip_id: {"source": str(item.path), "label": item.label, "prompt": item.prompt, "split": item.split}
        for item in items
    }
    atomic_write_text(folder.path / "export.json", json.dumps(record, indent=2) + "\n")
    return record
