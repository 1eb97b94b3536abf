"""The resumable, atomic writer of one corrupted or composed set: resume records, outputs, the manifest."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from audiometric.corrupt.clip import dumps, stable_hash, write_json, write_wav
from audiometric.errors import AudiometricError
from audiometric.runtime.outputs import RunFolder, run_folder
from corruptions.pool import sha256_file

MANIFEST = "manifest.json"
RECORDS_DIR = ".corrupt-records"


class SetRun:
    """Bookkeeping for one output folder: resume records, atomic outputs, the final manifest.

    Whether the folder may be written, and whether it holds this run to resume, is decided by the output
    policy (:func:`~audiometric.runtime.outputs.run_folder`, the stamp); a resumed run reuses the files
    its manifest or resume records vouch for.
    """

    def __init__(self, folder: RunFolder, header: dict) -> None:
        self.out_dir = folder.path
        self.header = json.loads(dumps(header))
        self.records = self.out_dir / RECORDS_DIR
        self.done: dict[str, dict] = {}
        if not folder.resume:  # a fresh run, or one taken over with --overwrite: nothing there is ours
            shutil.rmtree(self.records, ignore_errors=True)
            folder.claim()
            return
        manifest = self.out_dir / MANIFEST
        if manifest.exists():
            self.done.update({e["name"]: e for e in json.loads(manifest.read_text()).get("files", [])})
        for record in sorted(self.records.glob("*.json")):
            entry = json.loads(record.read_text())
            self.done[entry["name"]] = entry

    def finished(self, name: str, input_sha256: str | None) -> dict | None:
        """The earlier entry for ``name`` when its output is on disk unchanged and its input is the same."""
        entry = self.done.get(name)
        if entry is None or entry.get("input_sha256") != input_sha256:
            return None
        output = self.out_dir / entry["output"]
        if not output.is_file() or sha256_file(output) != entry["output_sha256"]:
            return None
        return entry

    def save(self, entry: dict, audio: np.ndarray, sample_rate: int) -> dict:
        """Write one output and its resume record; return the entry with the output's hash."""
        output = self.out_dir / entry["output"]
        write_wav(output, audio, sample_rate)
        entry = json.loads(dumps({**entry, "output_sha256": sha256_file(output)}))
        write_json(self.records / f"{stable_hash(entry['name']):016x}.json", entry)
        return entry

    def close(
        self,
        entries: Iterable[dict],
        passed_over: list[dict[str, str]] | None = None,
        skipped: list[dict[str, str]] | None = None,
    ) -> dict:
        """Write ``manifest.json`` and remove the resume records; return the manifest.

        ``passed_over`` lists the input entries that were not corrupted (not audio, hidden) with the reason;
        ``skipped`` the audio files that could not be (unusable), with the reason.
        """
        manifest = {"run": self.header, "files": sorted(entries, key=lambda e: e["name"])}
        if passed_over:
            manifest["passed_over"] = passed_over
        if skipped:
            manifest["skipped"] = skipped
        write_json(self.out_dir / MANIFEST, manifest)
        shutil.rmtree(self.records, ignore_errors=True)
        return manifest


def open_run(out_dir: Path, command: str, header: dict, inputs: tuple, overwrite: bool) -> SetRun:
    """The run writing OUT_DIR, checked by the output policy (its settings: the header but the version)."""
    settings = {k: v for k, v in header.items() if k != "audiometric_version"}
    folder = run_folder(out_dir, command=command, settings=settings, flag="OUT_DIR", inputs=inputs, overwrite=overwrite)
    return SetRun(folder, header)


def progress_bar(items: list[str], show: bool) -> Iterable[str]:
    """``items`` with a per-file progress bar when ``show``."""
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, unit="file")


def named_error(err: Exception, name: str) -> AudiometricError:
    """A corruption's error as audiometric's one-line error, prefixed with the file it concerns."""
    return AudiometricError(f"{name}: {err}")
