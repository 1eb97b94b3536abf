"""Run a sweep: check inputs, embed the clean reference once, then corrupt, embed and score cell by cell.

Cost: the reference is embedded once; each cell embeds only the clips its corruption changed (unchanged
clips are the reference files, served by the content-keyed cache), so backbone work is at most
``(levels x seeds + 1) x N`` clips, and level 0 costs none. The next cell is corrupted in a thread
while the backbones run on the current one. Each finished cell is one JSON file under ``OUT_DIR/cells``,
written atomically and named by a key of everything that can change it; a rerun skips finished cells.
"""

from __future__ import annotations

import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from audiometric._version import __version__
from audiometric.errors import USER_ERRORS
from audiometric.metrics import get_metric
from audiometric.runtime.distributed import process_group
from audiometric.scoring.captions import Captions
from audiometric.sweep import cells as cellio
from audiometric.sweep import inputs, swap
from audiometric.sweep.cells import CELL_FORMAT, Members, Plan, Prepared, Reference, digest, members, prepare
from audiometric.sweep.core import ExtractionOptions, Scorer, lower_is_better, versions
from audiometric.sweep.output import check_out, write_outputs
from audiometric.sweep.spec import SweepSpec, required
from audiometric.sweep.spread import REPEATS, clean_spread


def run_sweep(spec: SweepSpec, opts: ExtractionOptions | None = None, overwrite: bool = False) -> dict[str, Any] | None:
    """Run (or resume) ``spec``; write OUT_DIR's results; return the run's counters (``None`` on ranks > 0).

    OUT_DIR follows the output policy (:func:`~audiometric.sweep.output.check_out`; ``overwrite``).
    """
    opts = opts or ExtractionOptions()
    out = Path(spec.out)
    resolved, kwargs = inputs.resolve_params(spec)
    folder = check_out(spec, resolved, overwrite)
    with process_group(opts.device) as (rank, size):
        # first: a metric its backbone cannot give (IS/KL on aisfx) is the error to fix before any count
        scorer = Scorer.create(
            spec.metrics, spec.backbone, spec.fad_backbone, spec.bootstrap, spec.confidence, opts, rank, size
        )
        names = inputs.preview(spec, resolved)
        inputs.check_sizes(spec, len(names))
        captions = inputs.captions(spec, names, scorer)
        pool, pool_digest = inputs.load_pool(spec, resolved)
        if spec.corruption in ("interference", "interference_fraction"):
            inputs.check_classes(spec, required(pool, "--pool"), inputs.target_labels(names, spec.labels), resolved)
        show = opts.progress and scorer.rank == 0
        if rank == 0:
            folder.claim()
        ref, ref_set = inputs.reference(spec, out, resolved, pool, scorer, show)
        inputs.check_sizes(spec, len(ref.names))
        embedded = ref_set.extraction
        common = _common(spec, resolved, scorer, ref, pool_digest, captions)
        grid = [(level, seed) for level in spec.levels for seed in range(spec.seeds)]
        keys = {cell: digest({**common, "level": cell[0], "seed": cell[1]}) for cell in grid}
        done = {
            cell: c
            for cell in grid
            if (c := cellio.read_cell(_cell_path(out, cell, keys[cell]))) is not None and c["key"] == keys[cell]
        }
        counters = {
            "cells": len(grid),
            "cells_resumed": len(done),
            "cells_computed": 0,
            "reference_clips": len(ref.names),
            "reference_backbone_passes": embedded.cache_misses,
            "cell_backbone_passes": 0,
            "cache_hits": embedded.cache_hits,
        }
        plan = Plan(corruption=spec.corruption, kwargs=kwargs, reference=ref, protocol=spec.protocol, pool=pool)
        _run_cells(
            scorer, spec, plan, [cell for cell in grid if cell not in done], keys, done, embedded.clips, counters, show
        )
    if rank != 0:
        return None
    for message in sorted({m for cell in grid for m in done[cell].get("warnings", [])}):
        warnings.warn(message, stacklevel=2)
    provenance = _provenance(spec, resolved, scorer, ref, ref_set.summary(), pool, pool_digest)
    provenance["captions"] = captions.summary() if captions else None
    rows = [row for cell in grid for row in cell_rows(done[cell], spec)]
    spread_key = digest({**common, "repeats": REPEATS})
    spread = clean_spread(scorer, embedded.clips, ref.root, spec.metrics, spread_key, out / "clean_spread.json")
    write_outputs(spec, out, rows, [done[cell] for cell in grid], provenance, counters, spread)
    return counters


def _common(
    spec: SweepSpec, resolved: dict, scorer: Scorer, ref: Reference, pool_digest: str | None, captions: Captions | None
) -> dict:
    """Everything every cell key holds besides its level and seed (the captions' digest only when given, so
    the keys of sweeps without captions stay as they were)."""
    return {
        **({"captions": captions.sha256} if captions else {}),
        "format": CELL_FORMAT,
        "corruption": spec.corruption,
        "params": resolved,
        "protocol": spec.protocol,
        "backbones": scorer.backbones(),
        "extraction": scorer.cache_settings(),
        "reference": ref.content(),
        "pool": pool_digest,
        "labels": digest(ref.labels) if ref.labels else None,
        "metrics": list(spec.metrics),
        "bootstrap": spec.bootstrap,
        "confidence": spec.confidence,
        "permutations": swap.PERMUTATIONS,
    }


def _run_cells(
    scorer: Scorer,
    spec: SweepSpec,
    plan: Plan,
    todo: list[tuple[float, int]],
    keys: dict,
    done: dict,
    ref_clips: list,
    counters: dict,
    show: bool,
) -> None:
    """Corrupt (one cell ahead, in a thread), embed and score every cell of ``todo``; write each when done."""
    out = Path(spec.out)
    bar = tqdm(
        total=len(todo),
        desc=f"sweep {spec.corruption}",
        unit="cell",
        disable=not show,
        postfix={"resumed": len(done)} if done else None,
    )
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        ahead = _submit(executor, plan, todo, 0, out, keys)
        for i, cell in enumerate(todo):
            prepared, chosen = ahead.result()
            ahead = _submit(executor, plan, todo, i + 1, out, keys)
            result = _score(scorer, spec, plan, cell, keys[cell], prepared, chosen, ref_clips)
            counters["cell_backbone_passes"] += result["cache"]["misses"]
            counters["cache_hits"] += result["cache"]["hits"]
            counters["cells_computed"] += 1
            if scorer.rank == 0:
                cellio.write_cell(_cell_path(out, cell, keys[cell]), result)
                if not spec.keep_audio:
                    shutil.rmtree(_audio_dir(out, cell, keys[cell]), ignore_errors=True)
            done[cell] = result
            bar.update(1)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        bar.close()


def _provenance(spec: SweepSpec, resolved: dict, scorer: Scorer, ref, listing: dict, pool, pool_digest) -> dict:
    """Everything in results.json besides the cells: versions, digests, seeds, pairing."""
    return {
        "audiometric": __version__,
        "versions": versions(),
        "corruption": spec.corruption,
        "params": resolved,
        "protocol": spec.protocol,
        "levels": list(spec.levels),
        "seeds": list(range(spec.seeds)),
        "metrics": list(spec.metrics),
        "backbones": {n: {"checkpoint_sha256": s} for n, s in scorer.backbones().items()},
        "extraction": scorer.cache_settings(),
        "reference": {**listing, "root": str(ref.root), "clips": len(ref.names), "content_sha256": ref.content()},
        "pool": {"source": pool.source, "content_sha256": pool_digest} if pool is not None else None,
        "bootstrap": {"replicates": spec.bootstrap, "confidence": spec.confidence, "seed": "the cell's seed"},
        "seed_derivation": "clip rng = SeedSequence([seed, stable_hash(name)]); set selection = "
        "SeedSequence([seed, stable_hash('\\0set-selection')]); split = "
        "SeedSequence([seed, stable_hash('\\0sweep-split')])",
        "kl_pairing": (
            "each corrupted clip of half A with its own clean original (every metric paired by name: KL, clap_pair)"
            if spec.protocol == "split"
            else "each corrupted clip with its clean original"
        ),
    }


def _cell_path(out: Path, cell: tuple[float, int], key: str) -> Path:
    return out / "cells" / f"{cellio.cell_name(*cell, key)}.json"


def _audio_dir(out: Path, cell: tuple[float, int], key: str) -> Path:
    return out / "cells" / cellio.cell_name(*cell, key)


def _submit(executor: ThreadPoolExecutor, plan: Plan, todo: list, i: int, out: Path, keys: dict):
    """Start corrupting cell ``todo[i]`` in the background (``None`` past the end)."""
    if i >= len(todo):
        return None
    level, seed = todo[i]
    chosen = members(plan.protocol, len(plan.reference.names), seed)

    def work() -> tuple[Prepared | str, Members]:
        try:
            return prepare(plan, level, seed, chosen.generated, _audio_dir(out, todo[i], keys[todo[i]])), chosen
        except USER_ERRORS as err:  # the whole cell failed (e.g. its pool became unreadable)
            return str(err), chosen

    return executor.submit(work)


def _score(
    scorer: Scorer,
    spec: SweepSpec,
    plan: Plan,
    cell: tuple[float, int],
    key: str,
    prepared: Prepared | str,
    chosen: Members,
    ref_clips: list,
) -> dict:
    """Embed one prepared cell and compute every metric; a cell without usable clips records why."""
    level, seed = cell
    root, names = plan.reference.root, plan.reference.names
    result: dict[str, Any] = {
        "format": CELL_FORMAT,
        "key": key,
        "corruption": spec.corruption,
        "level": level,
        "seed": seed,
        "protocol": spec.protocol,
        "cache": {"hits": 0, "misses": 0},
    }
    if isinstance(prepared, str):
        return {**result, "status": "failed", "error": prepared}
    extraction = scorer.embed(prepared.files, prepared.names, root, f"level {level:g} seed {seed}", progress=False)
    gen = extraction.clips
    result.update(
        cache={"hits": extraction.cache_hits, "misses": extraction.cache_misses},
        skipped=prepared.skipped + extraction.skipped,
        records_sha256=digest(prepared.records),
        records=prepared.records,
        generated=list(prepared.names),
        reference=[names[i] for i in chosen.reference],
    )
    if not gen:
        first = result["skipped"][0] if result["skipped"] else {"file": "-", "reason": "no clips"}
        return {
            **result,
            "status": "failed",
            "error": f"no usable clip in this cell (first: {first['file']}: {first['reason']})",
        }
    if scorer.rank != 0:
        return {**result, "status": "ok", "metrics": {}, "not_computed": {}}
    return {**result, "status": "ok", **_metrics(scorer, spec, gen, ref_clips, chosen, plan.reference, cell)}


def _metrics(
    scorer: Scorer, spec: SweepSpec, gen: list, ref_clips: list, chosen: Members, ref: Reference, cell: tuple
) -> dict[str, Any]:
    """A cell's metric entries, reasons, swap tests and warnings (kept in the cell, shown once at the end)."""
    level, seed = cell
    kl = tuple(m for m in spec.metrics if _with_originals(m, spec))
    main = tuple(m for m in spec.metrics if m not in kl)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values, not_computed = scorer.compute(gen, [ref_clips[i] for i in chosen.reference], ref.root, main, seed)
        if kl:
            more, why = scorer.compute(gen, [ref_clips[i] for i in chosen.kl_reference], ref.root, kl, seed)
            values.update(more)
            not_computed.update(why)
        swaps = _swaps(scorer, spec, gen, ref_clips, chosen, ref, level, seed)
    return {
        "metrics": values,
        "not_computed": not_computed,
        "swaps": swaps,
        "warnings": sorted({str(w.message) for w in caught}),
    }


def _swaps(
    scorer: Scorer,
    spec: SweepSpec,
    gen: list,
    ref_clips: list,
    chosen: Members,
    ref: Reference,
    level: float,
    seed: int,
) -> dict[str, dict]:
    """The paired swap test of every metric entry at this level against level 0 (none at level 0 itself)."""
    if level == 0:
        return {}
    index = {name: i for i, name in enumerate(ref.names)}
    root = ref.root
    clean = [ref_clips[index[Path(clip.path).relative_to(root).as_posix()]] for clip in gen]
    out: dict[str, dict] = {}
    for metric in spec.metrics:
        against = chosen.kl_reference if _with_originals(metric, spec) else chosen.reference
        out.update(scorer.swap_test(clean, gen, [ref_clips[i] for i in against], root, metric, seed))
    return out


def _with_originals(metric: str, spec: SweepSpec) -> bool:
    """Whether ``metric`` is scored against the clean originals of the corrupted clips: under the split
    protocol, a metric paired by name with reference clips (KL, clap_pair; half B holds other names)."""
    info = get_metric(metric)
    return spec.protocol == "split" and info.paired and info.reference == "clips"


def cell_rows(cell: dict, spec: SweepSpec) -> list[dict]:
    """The ``results.csv`` rows of one cell, in the order of the requested metrics."""
    base = {
        "corruption": cell["corruption"],
        "protocol": cell["protocol"],
        "level": cell["level"],
        "seed": cell["seed"],
    }
    rows = []
    for metric in spec.metrics:
        better = "lower" if lower_is_better(metric) else "higher"
        if cell["status"] != "ok":
            rows.append({**base, "metric": metric, "better": better, "note": f"cell failed: {cell['error']}"})
            continue
        for name, entry in sorted(cell["metrics"].get(metric, {}).items()):
            ci = entry.get("ci") or [None, None]
            rows.append(
                {
                    **base,
                    "metric": name,
                    "better": better,
                    "value": entry["value"],
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "n_generated": entry.get("n_generated"),
                    "n_reference": entry.get("n_reference", entry.get("n_pairs")),
                    "backbone": entry.get("backbone"),
                    "note": entry.get("note", ""),
                }
            )
        if metric in cell["not_computed"]:
            rows.append(
                {**base, "metric": metric, "better": better, "note": f"not computed: {cell['not_computed'][metric]}"}
            )
    return rows
