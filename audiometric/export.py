"""``audiometric embed``: per-file backbone outputs of a folder, exported to one ``.npz``.

Layout: ``names``, ``paths``, ``sha256`` (one entry per clip, file order); for each backbone output
``"<backbone>:<output>"`` the clips' rows concatenated, shape ``(total frames, dim)``, and
``"<backbone>:<output>:offsets"`` (clips + 1,) so clip i is ``rows[offsets[i]:offsets[i+1]]``;
``meta`` is a JSON string with checkpoints, preprocessing and skipped files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .distributed import finish, init
from .embed import RESAMPLER
from .score import ExtractionOptions, make_extractor
from .sets import extract_folder


def export(folder: str, out: str | Path, names: list[str], opts: ExtractionOptions) -> dict:
    """Run backbones ``names`` (every output of each) over ``folder`` and write ``out``; returns a summary.

    Under ``torchrun`` every rank embeds its shard and rank 0 writes the file.
    """
    rank, size = init(opts.device)
    extractor = make_extractor({name: set() for name in names}, opts, progress=rank == 0)
    clips = extract_folder(folder, extractor, opts.strict, rank, size, desc="embedding")
    finish()
    arrays: dict[str, np.ndarray] = {
        "names": np.array(clips.names()),
        "paths": np.array([c.path for c in clips.extraction.clips]),
        "sha256": np.array([c.sha256 for c in clips.extraction.clips]),
    }
    for name, model in extractor.backbones.items():
        for output in model.outputs:
            rows = clips.rows(name, output)
            arrays[f"{name}:{output}"] = np.concatenate(rows)
            arrays[f"{name}:{output}:offsets"] = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    meta = {"backbones": {n: {"checkpoint_sha256": m.checkpoint_sha256, "sample_rate": m.sample_rate}
                          for n, m in extractor.backbones.items()},
            "preprocessing": {**opts.preprocess.as_dict(), "resampler": RESAMPLER}, "skipped": clips.extraction.skipped}
    arrays["meta"] = np.array(json.dumps(meta))
    if rank == 0:
        atomic_write(out, lambda handle: np.savez(handle, **arrays))
    return {"clips": len(clips.extraction.clips), "skipped": clips.extraction.skipped,
            "outputs": sorted(k for k in arrays if ":" in k and not k.endswith(":offsets"))}
