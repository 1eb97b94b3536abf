"""Composed reference sets for ``event_permutation``: writing them (:func:`compose_set`), and reading one back
for a permutation run (:func:`composition_inputs`, :func:`check_reference`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from audiometric._version import __version__
from audiometric.corrupt.clip import file_rng, stable_hash
from audiometric.corrupt.options import parse_params
from audiometric.corrupt.setrun import MANIFEST, named_error, open_run, progress_bar
from audiometric.errors import USER_ERRORS, AudiometricError
from audiometric.runtime.outputs import check_folder
from corruptions.event_permutation import COMPOSE_PARAMS, compose, draw_events, load_events
from corruptions.pool import Pool


def composition_inputs(
    in_dir: Path, pool: str | Path | None, resolved: dict, raw: Mapping[str, Any]
) -> tuple[list[str], dict, dict]:
    """A composed reference set's clip names, its pool (``{"pool": Pool}``) and each clip's composition record;
    ``resolved``'s gap and crossfade set to the set's own."""
    manifest_path = in_dir / MANIFEST
    if not manifest_path.is_file():
        raise AudiometricError(f"{in_dir}: no {MANIFEST}; event_permutation needs a reference set made with --compose")
    manifest = json.loads(manifest_path.read_text())
    run = manifest.get("run", {})
    if run.get("kind") != "composition":
        raise AudiometricError(f"{manifest_path}: not a composed reference set; make one with --compose")
    for key in ("gap_s", "crossfade_s"):
        if key in raw and float(resolved[key]) != float(run["params"][key]):
            raise AudiometricError(f"--param {key} differs from the reference set's ({run['params'][key]}); omit it")
        resolved[key] = run["params"][key]
    composition = {f["name"]: f["record"] for f in manifest["files"]}
    return sorted(composition), {"pool": Pool.from_path(pool if pool is not None else run["pool"])}, composition


def check_reference(audio: np.ndarray, rate: int, record: dict, pool: Pool, params: dict) -> list[np.ndarray]:
    """The events of reference clip ``audio`` (``(channels, samples)`` at ``rate`` Hz), after checking that
    recomposing them from ``record`` gives it exactly."""
    events = load_events(pool, record["events"], rate)
    expected, _ = compose(events, rate, params["gap_s"], params["crossfade_s"])
    if not np.array_equal(np.atleast_2d(expected), audio):
        raise AudiometricError("reference clip differs from the composition in its manifest; recompose the set")
    return events


def compose_set(
    pool: str | Path,
    out_dir: str | Path,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict:
    """Write ``n_clips`` reference clips, each composed of ``n_events`` events from distinct pool classes.

    Clips are named ``clip_00000.wav`` ...; the manifest records every event (pool path, hash, crop)
    and boundary so that ``corrupt_set(out_dir, ..., "event_permutation", k)`` can permute them.
    """
    out_dir = check_folder(out_dir, flag="OUT_DIR", inputs=(pool,))
    resolved = parse_params(COMPOSE_PARAMS, params or {})
    the_pool = Pool.from_path(pool)
    header = {
        "kind": "composition",
        "audiometric_version": __version__,
        "params": resolved,
        "seed": int(seed),
        "pool": the_pool.source,
    }
    run = open_run(out_dir, "corrupt --compose", header, (pool,), overwrite)
    entries = []
    names = [f"clip_{i:05d}.wav" for i in range(int(resolved["n_clips"]))]
    for name in progress_bar(names, progress):
        previous = run.finished(name, None)
        if previous is not None:
            entries.append(previous)
            continue
        rate = int(resolved["sample_rate"])
        try:
            events, infos = draw_events(
                the_pool, file_rng(seed, name), int(resolved["n_events"]), rate, float(resolved["event_max_s"])
            )
            audio, layout = compose(events, rate, resolved["gap_s"], resolved["crossfade_s"])
        except USER_ERRORS as err:
            raise named_error(err, name) from None
        item = {
            "name": name,
            "output": name,
            "input_sha256": None,
            "sample_rate": rate,
            "seed_entropy": [int(seed), stable_hash(name)],
            "record": {"events": infos, **layout},
        }
        entries.append(run.save(item, audio, rate))
    return run.close(entries)
