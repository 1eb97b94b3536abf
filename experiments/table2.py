"""Table II / Figure 2 runner: fine-tune every cell (dataset x pre-trained/scratch x text/audio), then assemble
Table II (the best evaluation per cell by the config's ``select`` metric, with its step) and Figure 2 (each
metric against training steps, one line per cell) from the runs' ``eval.csv`` files.

Every cell resumes: a finished run (``final/`` present, last evaluation at ``max_steps``) is kept, an
interrupted one continues with ``--resume latest``. Cells run in this process, or under ``--launch`` (e.g.
``"accelerate launch --multi_gpu --num_processes 8"``) as ``audiometric finetune`` commands.

Usage: ``python experiments/table2.py --config experiments/table2.yaml --out runs/table2 [--only esc50]
[--launch CMD] [--assemble-only] [--no-progress]``. Layout of ``--out``: ``runs/{dataset}-{init}-{condition}/``
(each a fine-tuning run folder), ``table2.{md,csv,json}``, ``fig2.png``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric.errors import AudiometricError
from audiometric.ldm.train import TrainConfig, TrainingInterrupted, train
from audiometric.ldm.train.checkpoint import latest
from audiometric.metrics import column_label, entry_metric
from audiometric.runtime.atomic import atomic_write, atomic_write_text

#: The table's result keys and their headers (label and direction from the metric registry).
COLUMNS = [(key, column_label(key)) for key in ("fd", "is", "kl_softmax", "kl_sigmoid", "fad")]
#: The eval.csv columns a run's best evaluation may be selected by (``select:``).
SELECTABLE = ("fd", "fad", "kl_softmax", "kl_sigmoid", "kad", "is")


def load_config(path: Path) -> dict:
    """The YAML config with data and model paths resolved against its folder; one-line errors."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise AudiometricError(f"--config {path}: cannot read it ({' '.join(str(err).split())})") from None
    for key in ("model", "datasets", "inits", "conditions"):
        if not config or key not in config:
            raise AudiometricError(f"--config {path}: missing the key {key!r}")
    if not set(config["inits"]) <= {"pretrained", "scratch"}:
        raise AudiometricError(f"--config {path}: inits must be pretrained and/or scratch")
    if config.get("select", "fd") not in SELECTABLE:
        raise AudiometricError(f"--config {path}: select must be one of {', '.join(SELECTABLE)}")
    for entry in config["datasets"].values():
        entry["data_dir"] = str((path.parent / entry["data_dir"]).resolve())
    for key in ("model", "clap"):
        local = path.parent / str(config.get(key) or "")
        if config.get(key) and local.exists():
            config[key] = str(local.resolve())
    return config


def cells(config: dict, only: list[str]) -> list[tuple[str, str, str]]:
    """(dataset, init, condition) of every cell, or of those ``--only`` names (a dataset or a cell name)."""
    chosen = [(d, i, c) for d in config["datasets"] for i in config["inits"] for c in config["conditions"]]
    if only:
        names = {"-".join(cell) for cell in chosen} | set(config["datasets"])
        wrong = [o for o in only if o not in names]
        if wrong:
            raise AudiometricError(f"--only {wrong[0]}: choose a dataset or one of {', '.join(sorted(names))}")
        chosen = [cell for cell in chosen if "-".join(cell) in only or cell[0] in only]
    return chosen


def cell_options(config: dict, dataset: str, init: str, condition: str, out: Path) -> dict:
    """The ``audiometric finetune`` options of one cell."""
    options = {
        **config.get("finetune", {}),
        **config["datasets"][dataset],
        "dataset": dataset,
        "model": config["model"],
        "condition": condition,
        "from_scratch": init == "scratch",
        "out": str(out / "runs" / f"{dataset}-{init}-{condition}"),
    }
    if condition == "audio":
        options["clap"] = config.get("clap")
    return options


def finished(run: Path, max_steps: int) -> bool:
    rows = read_eval(run)
    return (run / "final" / "model_index.json").is_file() and bool(rows) and int(rows[-1]["step"]) >= max_steps


def run_cell(options: dict, launch: str | None, progress: bool) -> None:
    """Train one cell (resuming it when it has a checkpoint)."""
    run = Path(options["out"])
    if finished(run, options.get("max_steps", TrainConfig.max_steps)):
        return
    options = {**options, "resume": "latest" if latest(run) else None}
    if launch is None:
        train(TrainConfig(**options, progress=progress))
        return
    args = shlex.split(launch) + ["-m", "audiometric", "finetune"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        args += (
            [flag] if value is True else [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
        )
    if not progress:
        args.append("--no-progress")
    done = subprocess.run(args)
    if done.returncode != 0:
        raise AudiometricError(f"cell {run.name}: `{' '.join(args[:6])} ...` exited with {done.returncode}")


def read_eval(run: Path) -> list[dict]:
    path = run / "eval.csv"
    return list(csv.DictReader(open(path, newline=""))) if path.is_file() else []


def best(rows: list[dict], metric: str) -> dict | None:
    """The evaluation row with the best ``metric`` (lowest, or highest for IS); the earliest step on ties."""
    scored = [r for r in rows if r.get(metric) not in (None, "")]
    if not scored:
        return None
    sign = 1.0 if entry_metric(metric).lower_is_better else -1.0
    return min(scored, key=lambda r: (sign * float(r[metric]), int(r["step"])))


def assemble(config: dict, chosen: list[tuple[str, str, str]], out: Path) -> str:
    """Write table2.md / .csv / .json and fig2.png under ``out``; returns the Markdown."""
    metric = config.get("select", "fd")
    header = ["dataset", "init", "condition", "best step", "of steps"] + [label for _, label in COLUMNS]
    rows, record, curves = [], {}, {}
    for dataset, init, condition in chosen:
        run = out / "runs" / f"{dataset}-{init}-{condition}"
        evals = read_eval(run)
        pick = best(evals, metric)
        curves[f"{dataset} {init} {condition}"] = evals
        last = evals[-1]["step"] if evals else "—"
        values = ["—" if not pick or pick.get(k) in (None, "") else f"{float(pick[k]):.3f}" for k, _ in COLUMNS]
        rows.append([dataset, init, condition, pick["step"] if pick else "—", last] + values)
        record[f"{dataset}-{init}-{condition}"] = {"run": str(run), "best": pick, "evaluations": evals}
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    ft = config.get("finetune", {})
    note = (
        f"Best evaluation per cell by {metric} ({'lowest' if entry_metric(metric).lower_is_better else 'highest'}; earliest "
        f"step on ties), every {ft.get('eval_every', 5000)} steps with the EMA weights, text-conditioned, "
        f"{ft.get('eval_steps', 200)} DDIM steps, guidance {ft.get('eval_guidance', 3.5)}; start model "
        f"{config['model']}. Per-run provenance: runs/*/settings.json, eval.csv, train.csv."
    )
    markdown = "\n".join(lines + ["", note]) + "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header] + rows)
    atomic_write_text(out / "table2.md", markdown)
    atomic_write_text(out / "table2.csv", buffer.getvalue())
    atomic_write_text(
        out / "table2.json", json.dumps({"config": config, "select": metric, "cells": record}, indent=2) + "\n"
    )
    plot_fig2(curves, out / "fig2.png")
    return markdown


def plot_fig2(curves: dict[str, list[dict]], path: Path) -> Path:
    """One panel per metric against training steps, one line per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [
        (k, label) for k, label in COLUMNS if any(r.get(k) not in (None, "") for rows in curves.values() for r in rows)
    ]
    fig, axes = plt.subplots(1, max(1, len(present)), figsize=(3.4 * max(1, len(present)), 3.0), squeeze=False)
    for ax, (key, label) in zip(axes[0], present):
        for name, rows in curves.items():
            points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=name)
        ax.set_xlabel("training step")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    if present:
        axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=130))
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("table2.yaml"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", action="append", default=[], help="dataset or dataset-init-condition (repeatable)")
    parser.add_argument(
        "--launch", help='run each cell under this launcher, e.g. "accelerate launch --multi_gpu --num_processes 8"'
    )
    parser.add_argument("--assemble-only", action="store_true", help="only rebuild the table and figure")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        chosen = cells(config, args.only)
        if not args.assemble_only:
            for cell in chosen:
                run_cell(cell_options(config, *cell, args.out), args.launch, not args.no_progress)
        print(assemble(config, chosen, args.out))
    except AudiometricError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, TrainingInterrupted) as err:
        print(f"{err or 'interrupted'}; finished cells are kept: run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
