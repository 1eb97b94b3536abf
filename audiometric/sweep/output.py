"""A sweep's files in OUT_DIR: results.csv/json, summary.md/json, figure.png (and .pdf), all atomic."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import corruptions
from audiometric.corrupt.clip import dumps
from audiometric.runtime.atomic import atomic_write_text
from audiometric.runtime.outputs import RunFolder, run_folder
from audiometric.sweep import figure
from audiometric.sweep.spec import ALIASES, SweepSpec
from audiometric.sweep.summary import COLUMNS, RHO_MIN, cell_stats, markdown, read_rows, verdicts


def check_out(spec: SweepSpec, resolved: dict[str, Any], overwrite: bool = False) -> RunFolder:
    """OUT_DIR checked by the output policy before any work: this experiment's folder (resumed cell by cell),
    a new one, or an error naming the run that wrote it. Levels and seeds are not part of the experiment
    (a rerun may add some: finished cells are reused), nor are the files kept (``--keep-audio``, ``--pdf``)."""
    where = {key: str(Path(v).resolve()) if v else None for key, v in (("ref", spec.ref), ("pool", spec.pool))}
    settings = {
        "corruption": spec.corruption,
        "params": resolved,
        **where,
        "labels": str(Path(spec.labels).resolve()) if spec.labels else None,
        "protocol": spec.protocol,
        "metrics": list(spec.metrics),
        "backbone": spec.backbone,
        "fad_backbone": spec.fad_backbone,
        "bootstrap": spec.bootstrap,
        "confidence": spec.confidence,
    }
    inputs = (spec.ref, spec.pool, spec.labels)
    return run_folder(spec.out, command="sweep", settings=settings, inputs=inputs, overwrite=overwrite)


def axis(spec: SweepSpec) -> dict[str, Any]:
    """The severity axis: label with unit (and the fixed SNR where one applies), SNR display flag."""
    severity = corruptions.get(spec.corruption).severity
    label = spec.scale.label
    if spec.corruption in ("interference", "interference_fraction"):
        label += f" ({float(spec.params.get('snr_db', 0.0)):g} dB SNR)"
    return {"label": label, "unit": severity.unit, "doc": severity.doc, "snr": spec.scale.snr}


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(path: Path, rows: list[dict]) -> None:
    """``results.csv``: one row per (level, seed, metric); floats written exactly (``repr``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell_text(row.get(column)) for column in COLUMNS])
    atomic_write_text(path, buffer.getvalue())


def write_outputs(
    spec: SweepSpec,
    out: Path,
    rows: list[dict],
    cells: list[dict],
    provenance: dict,
    counters: dict,
    spread: dict | None = None,
) -> dict[str, dict]:
    """Write every output; the verdicts are computed from results.csv as written (and the cells' bootstrap
    values and the clean spread), so they match it."""
    write_csv(out / "results.csv", rows)
    results = verdicts(read_rows(out / "results.csv"), cell_stats(cells), spread, spec.confidence)
    short = {v: k for k, v in ALIASES.items()}.get(spec.corruption, spec.corruption)
    fields = ("level", "seed", "key", "status", "error", "records_sha256", "cache", "skipped")
    cell_info = [{k: c.get(k) for k in fields} for c in cells]
    atomic_write_text(out / "results.json", dumps({**provenance, "cells": cell_info, "this_run": counters}))
    info = axis(spec)
    summary = {
        "corruption": spec.corruption,
        "alias": short,
        "protocol": spec.protocol,
        "axis": info,
        "seeds": spec.seeds,
        "bootstrap": spec.bootstrap,
        "rho_min": RHO_MIN,
        "alpha": round(1.0 - spec.confidence, 12),
        "clean_spread": None if spread is None else {"n": spread["n"], "repeats": spread["repeats"]},
        "metrics": results,
    }
    previous = (out / "summary.json").read_bytes() if (out / "summary.json").exists() else None
    atomic_write_text(out / "summary.json", dumps(summary))
    unchanged = previous == (out / "summary.json").read_bytes()
    title = f"{short} ({spec.corruption}), protocol {spec.protocol}, {spec.seeds} seed(s), backbone {spec.backbone}"
    atomic_write_text(out / "summary.md", markdown(title, results, _notes(spec, cells, results)))
    paths = [out / "figure.png"] + ([out / "figure.pdf"] if spec.pdf else [])
    if not (unchanged and all(p.exists() for p in paths)):  # a finished sweep rerun redraws nothing
        figure.plot(results, info, title, paths)
    return results


def _notes(spec: SweepSpec, cells: list[dict], results: dict[str, dict]) -> list[str]:
    """Failed cells, and metrics without a test (one seed, no bootstrap) or with unequal clip counts."""
    notes = [
        f"level {c['level']:g} / seed {c['seed']}: cell failed: {c['error']}" for c in cells if c["status"] != "ok"
    ]
    untested = [m for m, r in results.items() if r.get("reason")]
    if untested:
        notes.append(f"{', '.join(untested)}: {next(iter(results[m]['reason'] for m in untested))}")
    counts = {(c["seed"], len(c.get("generated") or [])) for c in cells if c["status"] == "ok"}
    if spec.bootstrap and len(counts) > len({seed for seed, _ in counts}):
        notes.append(
            "a cell lost clips (see results.json: skipped), so its bootstrap draws differ from level 0's: "
            "its test is conservative (the draws are no longer common)"
        )
    return notes
