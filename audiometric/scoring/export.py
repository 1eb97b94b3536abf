"""Per-file backbone outputs in one ``.npz`` (``audiometric embed``), and reading such a file back as a clip set.

Layout (every array one entry of the ``.npz``; clips in file order):

- ``names`` (clips,) str: the clip names KL pairs on; ``paths`` (clips,) str: the files as read;
  ``sha256`` (clips,) str: digest of each file's bytes;
- ``sample_rates`` (clips,) int, ``channels`` (clips,) int, ``seconds`` (clips,) float: each file's
  rate in Hz, channel count and duration in seconds, before preprocessing;
- ``"<backbone>:<output>"`` (total rows, dim) float32: the clips' rows concatenated, for each output of
  each backbone (``panns-cnn14-16k:embedding``, ``panns-cnn14-16k:logits``, ``vggish:embedding``, ...);
- ``"<backbone>:<output>:offsets"`` (clips + 1,) int: clip i is ``rows[offsets[i]:offsets[i + 1]]``;
- ``meta``: a JSON string with ``format``, ``folder``, ``files`` (entries listed), ``backbones``
  (``checkpoint_sha256``, ``sample_rate``, ``min_samples`` each), ``preprocessing`` and ``skipped``.

``audiometric score`` accepts such a file on either side: its rows are scored as if the folder had been
extracted again, once its checkpoints and preprocessing are checked against the rest of the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.extraction.clipset import ClipSet
from audiometric.extraction.extract import backbone_record
from audiometric.runtime.atomic import atomic_savez

FORMAT = "audiometric-embeddings-v1"


def embedding_arrays(clips: ClipSet, backbones: dict, preprocessing: dict) -> dict[str, np.ndarray]:
    """The ``.npz`` entries of ``clips``: every output present in each clip, plus ``meta``.

    ``backbones``: name -> model (with ``checkpoint_sha256``, ``sample_rate``, ``min_samples``, ``outputs``).
    """
    kept = clips.extraction.clips
    arrays: dict[str, np.ndarray] = {
        "names": np.array(clips.names(), dtype=str),
        "paths": np.array([c.path for c in kept], dtype=str),
        "sha256": np.array([c.sha256 for c in kept], dtype=str),
        "sample_rates": np.array([c.sample_rate for c in kept], dtype=np.int64),
        "channels": np.array([c.channels for c in kept], dtype=np.int64),
        "seconds": np.array([c.seconds for c in kept], dtype=np.float64),
    }
    for name, model in backbones.items():
        for output in model.outputs:
            rows = clips.rows(name, output)
            arrays[f"{name}:{output}"] = np.concatenate(rows)
            arrays[f"{name}:{output}:offsets"] = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(
                np.int64
            )
    meta = {
        "format": FORMAT,
        "folder": clips.path,
        "files": clips.listed,
        "backbones": {name: backbone_record(model) for name, model in backbones.items()},
        "preprocessing": preprocessing,
        "skipped": clips.extraction.skipped,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def save_embeddings(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write ``arrays`` (from :func:`embedding_arrays`) to ``path`` atomically."""
    return atomic_savez(path, arrays)


def output_keys(arrays: dict[str, np.ndarray] | list[str]) -> list[str]:
    """The ``"<backbone>:<output>"`` entries held (not their offsets)."""
    return sorted(k for k in arrays if ":" in k and not k.endswith(":offsets"))


def is_embedding_file(path: str | Path) -> bool:
    """Whether ``path`` is an ``.npz`` laid out as above (it has ``names`` and offsets), not a statistics file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return "names" in data.files and any(k.endswith(":offsets") for k in data.files)
    except (OSError, ValueError):
        return False


@dataclass
class StoredClipSet(ClipSet):
    """A clip set read back from an embedding file: the stored names, rows and provenance."""

    stored_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def names(self, backbone: str | None = None) -> list[str]:
        """The names saved with the rows (what KL pairs on); every stored clip has every stored output."""
        return list(self.stored_names)

    def summary(self) -> dict:
        """Counts and skips as when the folder was embedded, the folder, and the outputs the file holds."""
        return {**super().summary(), "folder": self.meta["folder"], "embeddings": list(self.meta["outputs"])}


def load_embeddings(path: str | Path, needs: dict[str, set[str]]) -> StoredClipSet:
    """Read an ``audiometric embed`` file as a clip set holding the outputs in ``needs`` (backbone -> outputs).

    One-line errors name the file and what it lacks (an output a metric needs, offsets, ``meta``).
    """
    from audiometric.extraction.extract import Clip, Extraction

    fix = f"re-export it with `audiometric embed DIR -o {path}`"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(str(arrays["meta"]))
        names = [str(n) for n in arrays["names"]]
    except (OSError, ValueError, KeyError) as err:
        raise AudiometricError(
            f"{path} is not an audiometric embedding file ({type(err).__name__}: {err}); {fix}"
        ) from None
    have = output_keys(arrays)
    count = len(names)
    per_clip = {key: arrays.get(key, np.zeros(count)) for key in ("sample_rates", "channels", "seconds")}
    clips = [
        Clip(
            index=i,
            path=str(p),
            sha256=str(s),
            sample_rate=int(per_clip["sample_rates"][i]),
            channels=int(per_clip["channels"][i]),
            seconds=float(per_clip["seconds"][i]),
        )
        for i, (p, s) in enumerate(zip(arrays["paths"], arrays["sha256"]))
    ]
    for backbone, outputs in needs.items():
        for output in sorted(outputs):
            key = f"{backbone}:{output}"
            if key not in arrays or f"{key}:offsets" not in arrays:
                raise AudiometricError(
                    f"{path} holds {', '.join(have) or 'no outputs'}, not {key}, which the "
                    f"requested metrics read; {fix} --backbone {backbone}, or choose other --metrics"
                )
            rows, offsets = arrays[key], arrays[f"{key}:offsets"]
            if len(offsets) != count + 1 or offsets[-1] != len(rows):
                raise AudiometricError(
                    f"{path}: {key}:offsets has {len(offsets)} entries ending at {offsets[-1]}, "
                    f"but there are {count} clips and {len(rows)} rows; {fix}"
                )
            for clip, start, stop in zip(clips, offsets[:-1], offsets[1:]):
                clip.outputs.setdefault(backbone, {})[output] = rows[start:stop]
    return StoredClipSet(
        str(path),
        int(meta.get("files", count)),
        Extraction(clips=clips, skipped=list(meta.get("skipped", []))),
        stored_names=tuple(names),
        meta={**meta, "outputs": have},
    )
