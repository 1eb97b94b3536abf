"""A set of clips (a folder tree) run through the backbones: listing, sharding, extraction, skips."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audiometric.audio.preprocess import list_audio_files
from audiometric.errors import DataError
from audiometric.extraction.extract import Clip, Extraction, Extractor
from audiometric.runtime.distributed import all_gather, shard


@dataclass
class ClipSet:
    """One folder's clips in file order, with what was skipped, ignored or left out and why."""

    path: str
    listed: int
    extraction: Extraction
    ignored: list[dict[str, str]] = field(default_factory=list)

    def rows(self, backbone: str, output: str) -> list[np.ndarray]:
        """Per-clip arrays ``(frames, dim)`` of one backbone output, in file order (clips that have it)."""
        return [
            clip.outputs[backbone][output] for clip in self.extraction.clips if output in clip.outputs.get(backbone, {})
        ]

    def names(self, backbone: str | None = None) -> list[str]:
        """Clip names (POSIX paths relative to the set's folder), in file order; with ``backbone``, only
        the clips that backbone was not told to leave out (the clips of :meth:`rows`)."""
        root = Path(self.path)
        return [
            Path(clip.path).relative_to(root).as_posix()
            for clip in self.extraction.clips
            if backbone is None or backbone not in clip.excluded
        ]

    def excluded(self) -> dict[str, list[dict[str, str]]]:
        """Backbone -> clips it left out (``Preprocess.short == "drop"``), each with the reason."""
        out: dict[str, list[dict[str, str]]] = {}
        for clip in self.extraction.clips:
            for backbone, reason in clip.excluded.items():
                out.setdefault(backbone, []).append({"file": clip.path, "reason": reason})
        return dict(sorted(out.items()))

    def summary(self) -> dict:
        """Counts and the files skipped, ignored or left out, for the result's provenance."""
        out = {
            "path": self.path,
            "files": self.listed,
            "scored": len(self.extraction.clips),
            "skipped": self.extraction.skipped,
            "ignored": self.ignored,
        }
        excluded = self.excluded()
        if excluded:
            out["excluded"] = excluded
        return out


def extract_folder(
    folder: str,
    extractor: Extractor,
    strict: bool = False,
    rank: int = 0,
    size: int = 1,
    desc: str = "embedding",
    sink: Callable[[Clip], None] | None = None,
) -> ClipSet:
    """Run ``extractor`` over the audio files under ``folder`` (recursive; this rank's shard; every rank gets all clips).

    Unusable files are recorded skips; with ``strict`` the first one is an error instead. Hidden files and
    audiometric's own sidecars are ``ignored`` (never an error). With ``sink``, outputs stream to it clip by
    clip and are not kept (see :meth:`Extractor.run`).
    """
    listing = list_audio_files(folder)
    files = listing.files
    mine = shard(files, rank, size)
    result = gather(extractor.run([files[i] for i in mine], desc=desc, sink=sink), mine, size)
    result.skipped = [{"file": str(p), "reason": r} for p, r in listing.skipped] + result.skipped
    if strict and result.skipped:
        first = result.skipped[0]
        raise DataError(
            f"{first['file']}: {first['reason']} (--strict: {len(result.skipped)} unusable "
            "file(s); fix or remove them, or drop --strict to skip them)"
        )
    if not result.clips:
        first = result.skipped[0]
        raise DataError(
            f"{folder}: none of the {len(files)} audio files could be decoded "
            f"(first: {first['file']}: {first['reason']})"
        )
    ignored = [{"file": str(p), "reason": r} for p, r in listing.ignored]
    return ClipSet(folder, len(files) + len(listing.skipped), result, ignored)


def gather(local: Extraction, indices: list[int], size: int) -> Extraction:
    """All ranks' extractions merged in global file order (every rank receives the result).

    Per-clip outputs, not pre-merged moments, are gathered, so the statistics and every metric are then
    computed by the same code in the same order as in a one-process run.
    """
    for clip in local.clips:
        clip.index = indices[clip.index]
    if size == 1:
        return local
    parts = all_gather(local, size)
    clips: list[Clip] = sorted((c for p in parts for c in p.clips), key=lambda c: c.index)
    skipped = sorted((s for p in parts for s in p.skipped), key=lambda s: s["file"])
    return Extraction(
        clips=clips,
        skipped=skipped,
        cache_hits=sum(p.cache_hits for p in parts),
        cache_misses=sum(p.cache_misses for p in parts),
        seconds=max(p.seconds for p in parts),
    )
