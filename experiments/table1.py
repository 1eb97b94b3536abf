"""Table I runner: for each dataset x condition (text, audio), export the reference, generate, score, and
assemble the table (Markdown + CSV + JSON with provenance). Every cell resumes: finished references, clips
and scores are kept, so an interrupted run continues where it stopped.

Usage: ``python experiments/table1.py --config experiments/table1.yaml --out runs/table1 [--only esc50-text]
[--device cuda] [--checkpoint NAME=PATH ...] [--no-progress]``. Layout of ``--out``: ``ref/{dataset}/``,
``gen/{dataset}-{condition}/``, ``scores/{dataset}-{condition}.json``, ``compare/{dataset}.json`` (the
conditions of a dataset compared: CIs, permutation tests, compact letters), ``table1.{md,csv,json}``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric import datasets
from audiometric.backbones.weights import checkpoint_map
from audiometric.datasets.export import export
from audiometric.errors import AudiometricError
from audiometric.metrics import column_label
from audiometric.runtime.atomic import atomic_write_text
from audiometric.scoring.compute import Settings

#: The table's result keys and their headers (label and direction from the metric registry).
COLUMNS = [(key, column_label(key)) for key in ("fd", "is", "kl_softmax", "kl_sigmoid", "fad")]
GENERATE_KEYS = {"steps", "guidance", "duration", "candidates", "seed", "batch_size", "precision", "original_attention"}


def load_config(path: Path) -> dict:
    """The YAML config with paths resolved against its folder; one-line errors for what is missing."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise AudiometricError(f"--config {path}: cannot read it ({' '.join(str(err).split())})") from None
    for key in ("model", "datasets", "conditions"):
        if not config or key not in config:
            raise AudiometricError(f"--config {path}: missing the key {key!r}")
    wrong = [c for c in config["conditions"] if c not in ("text", "audio")]
    if wrong:
        raise AudiometricError(f"--config {path}: condition {wrong[0]!r} is neither text nor audio")
    unknown = set(config.get("generate", {})) - GENERATE_KEYS
    if unknown:
        raise AudiometricError(f"--config {path}: unknown generate option {sorted(unknown)[0]!r}")
    for name, entry in config["datasets"].items():
        datasets.get(name)
        if not isinstance(entry, dict) or "data_dir" not in entry:
            raise AudiometricError(f"--config {path}: dataset {name} needs a data_dir")
        for key in ("data_dir", "audio_dir"):
            if entry.get(key):
                entry[key] = str((path.parent / entry[key]).resolve())
    for key in ("model", "clap"):
        local = path.parent / str(config.get(key) or "")
        if config.get(key) and local.exists():
            config[key] = str(local.resolve())
    return config


def cells(config: dict, only: list[str]) -> list[tuple[str, str]]:
    chosen = [(d, c) for d in config["datasets"] for c in config["conditions"]]
    if only:
        names = {f"{d}-{c}" for d, c in chosen}
        wrong = [o for o in only if o not in names and o not in config["datasets"]]
        if wrong:
            raise AudiometricError(f"--only {wrong[0]}: choose from {', '.join(sorted(names))} or a dataset name")
        chosen = [(d, c) for d, c in chosen if f"{d}-{c}" in only or d in only]
    return chosen


def run_cell(
    config: dict, dataset: str, condition: str, out: Path, device: str | None, progress: bool, checkpoints: dict
) -> dict:
    """Export (once per dataset), generate and score one cell; returns the score result."""
    from audiometric.ldm.generate import GenerateSettings, generate, jobs_from_items
    from audiometric.scoring.pipeline import ExtractionOptions, score

    entry = dict(config["datasets"][dataset])
    spec = datasets.get(dataset)
    options = {k: entry.pop(k) for k in ("file_pattern", "audio_dir") if k in entry}
    items = spec.items(
        entry["data_dir"],
        entry.get("split"),
        entry.get("eval_size"),
        entry.get("subset_seed", 0),
        entry.get("prompt_template"),
        None,
        entry.get("skip_missing", False),
        **options,
    )
    gen_cfg = {"batch_size": 8, **config.get("generate", {})}
    batch_size = gen_cfg.pop("batch_size")
    provenance = {
        "dataset": dataset,
        "split": entry.get("split") or spec.default_split,
        "eval_size": entry.get("eval_size"),
        "seed": entry.get("subset_seed", 0),
    }
    ref, gen = out / "ref" / dataset, out / "gen" / f"{dataset}-{condition}"
    export(items, ref, gen_cfg.get("duration", 10.24), provenance, progress)
    settings = GenerateSettings(model=config["model"], condition=condition, clap=config.get("clap"), **gen_cfg)
    generate(jobs_from_items(items), settings, gen, batch_size, device, provenance, progress)
    score_path = out / "scores" / f"{dataset}-{condition}.json"
    score_cfg = config.get("score", {})
    metric_settings = Settings(
        metrics=tuple(score_cfg.get("metrics", ["fd", "is", "kl", "fad"])),
        backbone=score_cfg.get("backbone", "panns-cnn14-16k"),
        fad_backbone=score_cfg.get("fad_backbone", "vggish"),
    )
    if score_path.exists():
        old = json.loads(score_path.read_text())
        if old.get("settings", {}).get("metrics") == list(metric_settings.metrics) and old["generated"][
            "scored"
        ] == len(items):
            return old
    opts = ExtractionOptions(
        device=device or "auto", workers=score_cfg.get("workers", 2), progress=progress, checkpoints=checkpoints
    )
    result = score(str(gen), str(ref), metric_settings, opts)
    atomic_write_text(score_path, json.dumps(result, indent=2, allow_nan=True) + "\n")
    return result


def compare_conditions(
    config: dict, results: dict[tuple[str, str], dict], out: Path, device: str | None, progress: bool, checkpoints: dict
) -> dict[str, dict]:
    """Per dataset with two or more conditions: `audiometric compare` of its generated sets against its reference
    (bootstrap CIs, permutation tests, compact letters), written to ``compare/{dataset}.json`` and reused."""
    from audiometric.scoring.compare import compare
    from audiometric.scoring.compare_stats import Plan
    from audiometric.scoring.pipeline import ExtractionOptions

    score_cfg, compare_cfg = config.get("score", {}), config.get("compare", {})
    settings = Settings(
        metrics=tuple(score_cfg.get("metrics", ["fd", "is", "kl", "fad"])),
        backbone=score_cfg.get("backbone", "panns-cnn14-16k"),
        fad_backbone=score_cfg.get("fad_backbone", "vggish"),
    )
    plan = Plan(**{k: compare_cfg[k] for k in ("permutations", "bootstrap", "seed") if k in compare_cfg})
    opts = ExtractionOptions(
        device=device or "auto", workers=score_cfg.get("workers", 2), progress=progress, checkpoints=checkpoints
    )
    comparisons = {}
    for dataset in dict.fromkeys(d for d, _ in results):
        systems = [str(out / "gen" / f"{d}-{c}") for d, c in results if d == dataset]
        if len(systems) < 2:
            continue
        path = out / "compare" / f"{dataset}.json"
        counts = [results[d, c]["generated"]["scored"] for d, c in results if d == dataset]
        if path.exists():  # reused while it compared these folders with these clip counts
            old = json.loads(path.read_text())
            done = [(v["path"], v["scored"]) for v in old["provenance"]["systems"].values()]
            if done == list(zip(systems, counts)):
                comparisons[dataset] = old
                continue
        comparisons[dataset], _ = compare(systems, str(out / "ref" / dataset), settings, plan, opts)
        atomic_write_text(path, json.dumps(comparisons[dataset], indent=2, allow_nan=True) + "\n")
    return comparisons


def _cell(result: dict, comparison: dict | None, condition: str, key: str) -> str:
    """``value [CI] letters`` from the comparison of the dataset's conditions, else the plain score value."""
    for entry in (comparison or {}).get("ranking", {}).get(key, []):
        if entry["system"] == condition:
            ci = "" if entry["ci"] is None else f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
            return f"{entry['value']:.3f}{ci} {entry['letters']}"
    value = result["metrics"].get(key, {}).get("value")
    return "—" if value is None else f"{value:.3f}"


def assemble(
    config: dict, results: dict[tuple[str, str], dict], out: Path, comparisons: dict[str, dict] | None = None
) -> str:
    """Write table1.md / .csv / .json under ``out``; returns the Markdown. With ``comparisons`` (per dataset), a
    value carries its bootstrap CI and compact letters: conditions of one dataset sharing a letter do not differ."""
    comparisons = comparisons or {}
    header = ["dataset", "condition", "clips"] + [label for _, label in COLUMNS]
    rows = []
    for (dataset, condition), result in results.items():
        system = f"{dataset}-{condition}"
        cells = [_cell(result, comparisons.get(dataset), system, key) for key, _ in COLUMNS]
        rows.append([dataset, condition, str(result["generated"]["scored"]), *cells])
    manifest = (
        json.loads((out / "gen" / f"{next(iter(results))[0]}-{next(iter(results))[1]}" / "manifest.json").read_text())
        if results
        else {}
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    notes = [
        f"Model {config['model']} (digest {manifest.get('model_digest', '?')[:12]}), attention heads "
        f"{manifest.get('attention', {}).get('heads')}, {config.get('generate', {}).get('steps', 200)} DDIM steps, "
        f"guidance {config.get('generate', {}).get('guidance', 2.5)}; FD/IS/KL on "
        f"{config.get('score', {}).get('backbone', 'panns-cnn14-16k')}, FAD on "
        f"{config.get('score', {}).get('fad_backbone', 'vggish')}; per-cell provenance in scores/*.json.",
        "Brackets: 95 % bootstrap CI; letters: conditions of one dataset sharing a letter are not significantly "
        "different (permutation tests, Holm, alpha 0.05; compact letter display, Piepho 2004); compare/*.json.",
    ]
    markdown = "\n".join(lines + [""] + notes) + "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header] + rows)
    atomic_write_text(out / "table1.md", markdown)
    atomic_write_text(out / "table1.csv", buffer.getvalue())
    record = {
        "config": config,
        "versions": manifest.get("versions"),
        "comparisons": {d: str(out / "compare" / f"{d}.json") for d in comparisons},
        "cells": {
            f"{d}-{c}": {
                "metrics": r["metrics"],
                "not_computed": r["not_computed"],
                "score_json": str(out / "scores" / f"{d}-{c}.json"),
                "generated": str(out / "gen" / f"{d}-{c}"),
            }
            for (d, c), r in results.items()
        },
    }
    atomic_write_text(out / "table1.json", json.dumps(record, indent=2, allow_nan=True) + "\n")
    return markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("table1.yaml"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", action="append", default=[], help="dataset or dataset-condition (repeatable)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--checkpoint", action="append", default=[], help="backbone weights NAME=PATH")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        checkpoints = checkpoint_map(args.checkpoint)
        config = load_config(args.config)
        results = {
            cell: run_cell(config, *cell, args.out, args.device, not args.no_progress, checkpoints)
            for cell in cells(config, args.only)
        }
        comparisons = compare_conditions(config, results, args.out, args.device, not args.no_progress, checkpoints)
        print(assemble(config, results, args.out, comparisons))
    except AudiometricError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished cells and clips are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
