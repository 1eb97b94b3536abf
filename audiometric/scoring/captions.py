"""Captions for ``clap_score``: a ``file,caption`` CSV, or the ``manifest.json`` that ``audiometric generate`` writes.

A generated clip finds its caption by name, as KL pairs clips: its path relative to the generated folder
(``dog/001.wav``), or that path without its extension (``dog/001``, generate's clip ids). Every generated
clip must have one; the first that lacks one is named in a one-line error before any clip is embedded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiometric.audio.preprocess import list_audio_files
from audiometric.errors import AudiometricError
from audiometric.metrics import get_metric

if TYPE_CHECKING:
    from audiometric.backbones import LazyBackbone
    from audiometric.extraction.clipset import ClipSet

#: The columns of a captions CSV.
COLUMNS = ("file", "caption")
#: The output name under which a generated clip holds its caption's text embedding ``(1, dim)``.
TEXT = "text"


@dataclass(frozen=True)
class Captions:
    """Caption text by clip name (as written in the file), the file it came from and its sha256."""

    path: str
    by_name: dict[str, str]
    sha256: str

    def lookup(self, names: list[str], where: str = "") -> list[str]:
        """The caption of each clip name (exact, else without extension); a one-line error naming a clip
        without one (``where``: the folder or file holding the clips, for the message)."""
        stems = {os.path.splitext(name)[0]: text for name, text in self.by_name.items()}
        found = {name: self.by_name.get(name, stems.get(os.path.splitext(name)[0])) for name in names}
        missing = [name for name, text in found.items() if text is None]
        if missing:
            of = f" of {where}" if where else ""
            raise AudiometricError(
                f"{self.path}: no caption for generated clip '{missing[0]}'{of} ({len(missing)} of {len(names)} "
                f"clips lack one); add a row '{missing[0]},CAPTION' (columns {','.join(COLUMNS)}) or drop clap_score"
            )
        return [str(found[name]) for name in names]

    def check_folder(self, folder: str) -> None:
        """Fail before any work when an audio file under ``folder`` has no caption."""
        root = Path(folder)
        self.lookup([Path(f).relative_to(root).as_posix() for f in list_audio_files(folder).files], folder)

    def summary(self) -> dict:
        """Provenance of the captions a result was computed with."""
        return {"path": self.path, "sha256": self.sha256, "captions": len(self.by_name)}


def check_captions(names: Sequence[str], prompts: object) -> None:
    """Captions are given exactly when a requested metric reads them (``clap_score``): one-line errors."""
    readers = [name for name in names if get_metric(name).reference == "captions"]
    if readers and prompts is None:
        raise AudiometricError(
            f"{readers[0]} needs each generated clip's caption: pass --prompts CSV (file,caption) or the "
            "manifest.json that `audiometric generate` wrote"
        )
    if prompts is not None and not readers:
        raise AudiometricError(f"--prompts {prompts}: only clap_score reads captions; add it to --metrics")


def read_captions(path: str | Path) -> Captions:
    """A ``file,caption`` CSV (UTF-8, header row) or generate's ``manifest.json`` (``clips.ID.prompt``)."""
    path = Path(path)
    where = f"--prompts {path}"
    if not path.is_file():
        raise AudiometricError(f"{where}: file not found; give a file,caption CSV or generate's manifest.json")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's byte-order mark is dropped
    except UnicodeDecodeError:
        raise AudiometricError(f"{where}: not UTF-8 text; save it as UTF-8") from None
    pairs = _manifest(text, where) if path.suffix.lower() == ".json" else _csv(text, where)
    if not pairs:
        raise AudiometricError(f"{where}: no captions in the file; write one {','.join(COLUMNS)} row per clip")
    return Captions(str(path), pairs, hashlib.sha256(raw).hexdigest())


def csv_with_columns(text: str, where: str, columns: Sequence[str]) -> csv.DictReader:
    """Rows of CSV ``text`` by their (stripped) header names, after a one-line error naming the columns
    expected and found unless the header holds every one of ``columns``; ``where`` names the file."""
    reader = csv.DictReader(text.splitlines())
    found = [field.strip() for field in reader.fieldnames or []]
    if not set(columns) <= set(found):
        raise AudiometricError(
            f"{where}: expected the columns {','.join(columns)}, found {','.join(found) or 'none'}; "
            f"start the CSV with the header row {','.join(columns)}"
        )
    reader.fieldnames = found
    return reader


def _csv(text: str, where: str) -> dict[str, str]:
    reader = csv_with_columns(text, where, COLUMNS)
    pairs: dict[str, str] = {}
    for row in reader:
        name, caption = (row["file"] or "").strip(), (row["caption"] or "").strip()
        if not name and not caption:
            continue
        if not name or not caption or name in pairs:
            why = "repeats an earlier file" if name in pairs else "has an empty file or caption"
            raise AudiometricError(f"{where}: row {reader.line_num} {why}; give each clip one row file,caption")
        pairs[name] = caption
    return pairs


def _manifest(text: str, where: str) -> dict[str, str]:
    try:
        clips = json.loads(text)["clips"]
        return {str(clip_id): str(entry["prompt"]) for clip_id, entry in clips.items() if entry.get("prompt")}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AudiometricError(
            f"{where}: not a manifest written by `audiometric generate` (no clips with prompts); "
            f"give it, or a {','.join(COLUMNS)} CSV"
        ) from None


def embed_captions(texts: list[str], model: LazyBackbone) -> np.ndarray:
    """Text embeddings ``(len(texts), dim)`` by ``model``'s text tower (``embed_text``); a one-line error for a
    backbone without one."""
    embed = getattr(model.build(), "embed_text", None)
    if embed is None:
        raise AudiometricError(
            f"backbone '{model.name}' has no text tower, so it cannot embed captions; ask clap_score on clap-laion"
        )
    return np.asarray(embed(texts), np.float32)


def add_text_rows(captions: Captions, gen: ClipSet, model: LazyBackbone) -> None:
    """Store each generated clip's caption embedding ``(1, dim)`` (``model``'s text tower) as its output
    :data:`TEXT`, beside the audio outputs ``clap_score`` pairs it with; clips are found by name."""
    named = [(clip, name) for clip, name in zip(gen.extraction.clips, gen.names()) if model.name in clip.outputs]
    rows = embed_captions(captions.lookup([name for _, name in named], gen.path), model)
    for i, (clip, _) in enumerate(named):
        clip.outputs[model.name][TEXT] = rows[i : i + 1]
