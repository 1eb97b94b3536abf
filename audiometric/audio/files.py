"""Audio file names, folder walks and file digests, shared by the scoring pipeline and the torch-free corruptions."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from corruptions.pool import AUDIO_EXTENSIONS  # one list, shared with the standalone corruption library

_CHUNK_BYTES = 1 << 20
#: The key naming the command that wrote a JSON record kept beside audio (``"audiometric generate"``).
WRITTEN_BY = "written_by"
_SIDECAR_BYTES = 1 << 22  # JSON sidecars larger than 4 MiB are not sniffed (the project writes small ones)


def file_digests(path: str | Path, *algorithms: str) -> list[str]:
    """Hex digests of the file at ``path`` for each hashlib algorithm name, in one pass of 1 MiB reads."""
    hashes = [hashlib.new(name, usedforsecurity=False) for name in algorithms]
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK_BYTES), b""):
            for h in hashes:
                h.update(block)
    return [h.hexdigest() for h in hashes]


@dataclass
class Listing:
    """A folder walk: audio files (sorted by relative path), and the other entries with why they were not used.

    ``skipped`` are entries a user may have meant as audio (other extensions, dangling links);
    ``ignored`` are entries that are not audio by design (hidden files, audiometric's own JSON/CSV sidecars).
    """

    root: Path
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)

    def name(self, path: Path) -> str:
        """The clip name of ``path``: its POSIX path relative to the walked folder (``a/x.wav``)."""
        return path.relative_to(self.root).as_posix()


def sidecar_kind(path: Path) -> str | None:
    """What audiometric sidecar ``path`` is (``"corrupt manifest"``, ``"score result"``, ...), or ``None``.

    Recognised by content, so a user's own JSON or CSV is still reported: a record that ``generate`` or
    ``datasets export`` writes beside its WAVs names its writer under :data:`WRITTEN_BY`, a manifest of
    ``corrupt`` has ``run.audiometric_version``, a ``score --json`` result an ``audiometric`` version key, a
    ``score --csv`` table the header ``metric,value,...``.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".json" and path.stat().st_size <= _SIDECAR_BYTES:
            data = json.loads(path.read_text(encoding="utf-8"))
            writer = data.get(WRITTEN_BY) if isinstance(data, dict) else None
            if isinstance(writer, str) and writer.startswith("audiometric "):
                return f"record written by {writer}"
            if isinstance(data, dict) and isinstance(data.get("run"), dict) and "audiometric_version" in data["run"]:
                return f"{data['run'].get('kind', 'corrupt')} manifest written by audiometric corrupt"
            if isinstance(data, dict) and "audiometric" in data and "metrics" in data:
                return "score result written by audiometric score --json"
        elif suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
            if header[:2] == ["metric", "value"]:
                return "metric table written by audiometric score --csv"
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None


def walk_audio(root: str | Path, exclude: Path | None = None) -> Listing:
    """Every entry under ``root`` (recursive, symbolic links followed), sorted by relative path.

    Hidden entries (name starting with ``.``) are ignored with their sub-trees; ``exclude`` (a folder) is
    not entered. Nothing is passed over without a record in ``skipped`` or ``ignored``.
    """
    listing = Listing(Path(root))
    _walk(listing.root, listing, exclude.resolve() if exclude is not None else None, set())
    for group in (listing.files, listing.skipped, listing.ignored):
        group.sort(key=lambda entry: listing.name(entry if isinstance(entry, Path) else entry[0]))
    return listing


def _walk(folder: Path, listing: Listing, exclude: Path | None, seen: set[Path]) -> None:
    real = folder.resolve()
    if real in seen:  # a link back up the tree: enter each real folder once
        listing.ignored.append((folder, "symbolic link loop (folder already walked)"))
        return
    seen.add(real)
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            listing.ignored.append((entry, "hidden " + ("folder" if entry.is_dir() else "file")))
        elif entry.is_dir():
            if exclude is None or entry.resolve() != exclude:
                _walk(entry, listing, exclude, seen)
        elif not entry.exists():
            listing.skipped.append((entry, "dangling symbolic link"))
        elif entry.suffix.lower() in AUDIO_EXTENSIONS:
            listing.files.append(entry)
        elif (kind := sidecar_kind(entry)) is not None:
            listing.ignored.append((entry, kind))
        else:
            listing.skipped.append((entry, f"not an audio file extension ({entry.suffix or 'none'})"))
