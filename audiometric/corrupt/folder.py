"""Write corrupted (or composed) audio sets to disk, reproducibly and resumably.

:func:`corrupt_set` applies one registered corruption to every audio file under ``in_dir`` and
writes the results under ``out_dir`` with the same relative names (suffix ``.wav``; float32 WAV) plus
``manifest.json``. :func:`~audiometric.corrupt.compose.compose_set` writes a reference set of clips composed
of pool events, whose manifest :func:`corrupt_set` reads for ``event_permutation``.

Reproducibility: file ``name`` is processed with ``np.random.default_rng(SeedSequence([seed,
stable_hash(name)]))``, so its output does not depend on processing order, and the same command with
the same seed writes byte-identical files and manifest. Every write is atomic (temporary file, then
rename); finished files are recorded in ``out_dir/.corrupt-records/`` (:mod:`~audiometric.corrupt.setrun`) so an interrupted run resumes
without rewriting them; the folder is removed once ``manifest.json`` is written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import corruptions
from audiometric._version import __version__
from audiometric.audio.files import AUDIO_EXTENSIONS, walk_audio
from audiometric.corrupt.clip import (
    check_decodable,
    corrupt_clip,
    set_rng,
    stable_hash,
)
from audiometric.corrupt.compose import check_reference, composition_inputs
from audiometric.corrupt.labels import label_of, read_labels
from audiometric.corrupt.options import check_taken, parse_params, takes
from audiometric.corrupt.setrun import SetRun, open_run, progress_bar
from audiometric.errors import USER_ERRORS, AudiometricError, DataError
from audiometric.runtime.outputs import check_folder
from corruptions.pool import Pool, sha256_file


def list_audio(in_dir: Path, exclude: Path | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Relative POSIX names of the audio files under ``in_dir`` (recursive, sorted; ``exclude`` not entered),
    and every other entry with why it is not corrupted (the walk ``score`` does, :func:`files.walk_audio`)."""
    listing = walk_audio(in_dir, exclude=exclude)
    passed = [{"name": listing.name(p), "reason": r} for p, r in listing.skipped + listing.ignored]
    return [listing.name(p) for p in listing.files], sorted(passed, key=lambda e: e["name"])


def output_name(name: str) -> str:
    """Output name for input ``name``: the same relative path with suffix ``.wav``."""
    return Path(name).with_suffix(".wav").as_posix()


def corrupt_set(
    in_dir: str | Path,
    out_dir: str | Path,
    corruption: str,
    severity: float,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    pool: str | Path | None = None,
    labels: str | Path | None = None,
    target_label: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    strict: bool = False,
) -> dict:
    """Corrupt every audio file under ``in_dir`` into ``out_dir``; return the manifest (also written).

    A file that cannot be used (does not decode, truncated, or the corruption fails on it) is skipped,
    named in a warning and listed under ``skipped`` in the manifest; with ``strict`` every input is decoded
    first and the first unusable one is an error before anything is written.

    ``params`` are the corruption's parameters (strings are parsed with the registry's types);
    ``pool`` is the interference pool (folder per class or ``path,label`` CSV); the target class of
    each file comes from ``labels`` (CSV ``path,label`` relative to ``in_dir``), else ``target_label``,
    else the file's first folder. For ``event_permutation``, ``in_dir`` is a set written by
    :func:`compose_set` and ``pool`` defaults to the pool recorded in its manifest. ``out_dir`` is
    checked by the output policy (:func:`~audiometric.runtime.outputs.run_folder`; ``overwrite``).
    """
    in_dir, out_dir = Path(in_dir).resolve(), Path(out_dir).resolve()
    entry = corruptions.get(corruption)
    _check_options(entry, severity, in_dir, out_dir, pool=pool, labels=labels, target_label=target_label)
    resolved = parse_params(entry, params or {})
    header: dict[str, Any] = {
        "kind": "corruption",
        "audiometric_version": __version__,
        "corruption": entry.name,
        "severity": float(severity),
        "params": resolved,
        "seed": int(seed),
        "in_dir": str(in_dir),
    }
    names, passed_over, clip_inputs = _set_inputs(entry, in_dir, out_dir, header, pool, labels, target_label, params)
    selected = _selection(entry, in_dir, names, severity, seed, header)
    if strict:
        check_decodable(in_dir, names)
    run = open_run(out_dir, "corrupt", header, (in_dir, pool, labels), overwrite)
    entries, skipped = [], []
    for name in progress_bar(names, progress):
        try:
            entries.append(_corrupt_file(run, entry, in_dir / name, name, severity, seed, clip_inputs(name), selected))
        except _FileError as err:
            if strict:
                raise DataError(f"{err} (--strict: stopped; fix or remove the file)") from None
            warnings.warn(f"skipped {err}; listed in the manifest under skipped", stacklevel=2)
            skipped.append({"name": name, "reason": err.reason})
    if not entries:
        raise DataError(
            f"{in_dir}: none of the {len(names)} audio files could be corrupted (first: "
            f"{skipped[0]['name']}: {skipped[0]['reason']}); fix the files"
        )
    return run.close(entries, passed_over, skipped)


class _FileError(DataError):
    """One input file could not be corrupted (the message names it; ``reason`` is why)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def _selection(
    entry: corruptions.Corruption, in_dir: Path, names: list[str], severity: float, seed: int, header: dict[str, Any]
) -> set[str]:
    """The clips the corruption acts on (all, unless its entry selects a share; recorded in ``header``),
    after checking that ``names`` is not empty and that no two inputs share an output name."""
    if not names:
        raise DataError(f"{in_dir} holds no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    outputs = [output_name(n) for n in names]
    if len(set(outputs)) != len(outputs):
        raise AudiometricError(f"{in_dir}: two inputs map to the same output name (e.g. a.wav and a.flac); rename one")
    if entry.select is None:
        return set(names)
    selected = entry.select(names, severity, set_rng(seed))
    header["selected"] = sorted(selected)
    return selected


def _corrupt_file(
    run: SetRun,
    entry: corruptions.Corruption,
    path: Path,
    name: str,
    severity: float,
    seed: int,
    inputs: Callable[[np.ndarray, int], dict[str, Any]],
    selected: set[str],
) -> dict:
    """Corrupt and write clip ``name`` at ``path`` (or reuse the output a resumed run holds); return its manifest
    entry, with the set-level selection recorded. Errors name the file (:class:`_FileError`) or the flag."""
    input_sha = sha256_file(path)
    previous = run.finished(name, input_sha)
    if previous is not None:
        return previous
    try:
        out, rate, record = corrupt_clip(entry, path, name, severity, seed, inputs, name in selected)
    except USER_ERRORS as err:
        if str(err).startswith(f"{entry.name}: severity must be"):  # the flag's fault, not the file's
            raise AudiometricError(f"--severity {severity}: {err}; see --list") from None
        raise _FileError(path, str(err)) from None
    if entry.select is not None:
        record = {**record, "selected": name in selected}
    item = {"name": name, "output": output_name(name), "input_sha256": input_sha, "sample_rate": rate}
    item.update(seed_entropy=[int(seed), stable_hash(name)], record=record)
    return run.save(item, out, rate)


def _set_inputs(
    entry: corruptions.Corruption,
    in_dir: Path,
    out_dir: Path,
    header: dict[str, Any],
    pool: str | Path | None,
    labels: str | Path | None,
    target_label: str | None,
    params: Mapping[str, Any] | None,
) -> tuple[list[str], list[dict[str, str]], Callable[[str], Callable[[np.ndarray, int], dict[str, Any]]]]:
    """The clip names, the files passed over, and each clip's corruption inputs (pool, target class, events).

    Records the pool and the target classes in ``header``.
    """
    corruption, resolved = entry.name, header["params"]
    inputs: dict[str, Any] = {}
    passed_over: list[dict[str, str]] = []
    composition: dict = {}
    if corruption == "event_permutation":
        names, inputs, composition = composition_inputs(in_dir, pool, resolved, params or {})
        header["pool"] = str(inputs["pool"].source)
    else:
        names, passed_over = list_audio(in_dir, exclude=out_dir)
        if takes(entry, "--labels"):  # interference: a pool of other classes, and each target's class
            if pool is None:
                raise AudiometricError(
                    f"corruption '{corruption}' needs --pool (a folder per class or a path,label CSV)"
                )
            inputs["pool"] = Pool.from_path(pool)
            header["pool"] = inputs["pool"].source
            label_map = read_labels(Path(labels)) if labels else {}
            header["labels"] = {n: label_of(n, label_map, target_label) for n in names}

    def clip_inputs(name: str) -> Callable[[np.ndarray, int], dict[str, Any]]:
        def given(audio: np.ndarray, rate: int) -> dict[str, Any]:
            kwargs = dict(resolved)
            if "labels" in header:
                kwargs.update(pool=inputs["pool"], target_label=header["labels"][name])
            if corruption == "event_permutation":
                kwargs["events"] = check_reference(audio, rate, composition[name], inputs["pool"], resolved)
            return kwargs

        return given

    return names, passed_over, clip_inputs


def _check_options(
    entry: corruptions.Corruption,
    severity: float,
    in_dir: Path,
    out_dir: Path,
    *,
    pool: str | Path | None,
    labels: str | Path | None,
    target_label: str | None,
) -> None:
    """One-line errors for options this corruption does not take, and for the folders, before any work."""
    corruption = entry.name
    if not float(severity) >= 0:  # every corruption's severity starts at 0 (= unchanged)
        raise AudiometricError(
            f"--severity {severity}: must be >= 0 for {corruption} ({entry.severity.span()}, 0 = unchanged; see --list)"
        )
    check_taken(entry, {"--pool": pool, "--labels": labels, "--target-label": target_label})
    if not in_dir.is_dir():
        raise AudiometricError(f"{in_dir} is not a folder; pass the folder of clips to corrupt")
    check_folder(out_dir, flag="OUT_DIR", inputs=(in_dir, pool, labels))
