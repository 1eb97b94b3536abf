"""Figure 1 of the seed study, with error bars and verdicts: run the four panel sweeps, draw one 4-row figure.

Rows: mel-domain noise, mel masking, interference (rising fraction of the set), event permutation; one
column per metric. Each panel is ``audiometric sweep --config experiments/fig1_<panel>.yaml`` run through
the Python API (finished cells are reused, so rerunning only redraws).

    # your data (see experiments/README.md for the layout)
    python experiments/fig1.py --out runs/fig1 --ref TARGETS/ --pool TEN_CLASSES/ --events EVENTS/
    # offline, on the bundled example with the aisfx backbone (what docs/sweeps.md shows)
    python experiments/fig1.py --example --out runs/fig1-example --figure docs/img/sweep_fig1_example.png
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
from pathlib import Path

from audiometric.errors import AudiometricError
from audiometric.scoring.pipeline import ExtractionOptions
from audiometric.sweep import load_config, make_spec, run_sweep
from audiometric.sweep.figure import draw_row, plt, save
from audiometric.sweep.summary import recompute

HERE = Path(__file__).resolve().parent
PANELS = ("noise", "mask", "interference", "permute")
EXAMPLE = {"backbone": "aisfx", "metrics": "fd,kad", "seeds": 3, "bootstrap": 100}


def example_inputs(out: Path) -> dict[str, dict]:
    """Per-panel options for the bundled example: reference, labels and pools as path,label CSVs."""
    data = HERE.parent / "examples" / "data"
    if not (data / "ref").is_dir():
        spec = importlib.util.spec_from_file_location("make_example", HERE.parent / "examples" / "make_example.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(data)
    out.mkdir(parents=True, exist_ok=True)

    def table(name: str, files: list[Path], relative: bool) -> str:
        path = out / name
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "label"])
            for f in files:
                writer.writerow([f.name if relative else f.resolve(), f.name.split("_")[0]])
        return str(path)

    ref, gen = sorted((data / "ref").glob("*.wav")), sorted((data / "gen").glob("*.wav"))
    labels = table("labels.csv", ref, relative=True)
    interferers = table("interference-pool.csv", gen, relative=False)
    events = table("event-pool.csv", ref + gen, relative=False)
    return {
        "noise": {"ref": str(data / "ref")},
        "mask": {"ref": str(data / "ref")},
        "interference": {"ref": str(data / "ref"), "labels": labels, "pool": interferers},
        "permute": {"pool": events, "params": {"n_clips": 12, "n_events": 4, "event_max_s": 1.0}},
    }


def run_panel(panel: str, out: Path, overrides: dict, opts: ExtractionOptions) -> Path:
    """Run one panel's sweep (config, then ``overrides``); return its OUT_DIR."""
    options = load_config(HERE / f"fig1_{panel}.yaml")
    params = {**options.get("params", {}), **overrides.pop("params", {})}
    options.update(overrides, params=params, out=str(out / panel))
    run_sweep(make_spec(options), opts)
    return out / panel


def assemble(folders: list[Path], figure: Path) -> None:
    """One row per panel folder, one column per metric, from each folder's results.csv and summary."""
    panels = [(json.loads((f / "summary.json").read_text()), recompute(f)) for f in folders]
    cols = max(len(summary["metrics"]) for summary, _ in panels)
    fig, axes = plt.subplots(len(panels), cols, figsize=(2.8 * cols, 2.6 * len(panels)), squeeze=False)
    for row, (summary, results) in zip(axes, panels):
        draw_row(list(row), results, summary["axis"], row_title=summary["alias"])
        for ax in row[len(results) :]:
            ax.set_visible(False)
    axes[0][0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    save(fig, figure)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/fig1"), help="folder for the four panel OUT_DIRs")
    parser.add_argument("--example", action="store_true", help="the bundled example, offline, aisfx backbone")
    parser.add_argument("--ref", help="clean target clips (noise, mask, interference)")
    parser.add_argument("--labels", help="path,label CSV of the targets' classes (interference)")
    parser.add_argument("--pool", help="ten irrelevant classes (interference)")
    parser.add_argument("--events", help="event clips, a folder per class (permute)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for every panel, e.g. backbone=aisfx, metrics=fd,kad, seeds=2 (repeatable)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--figure", type=Path, help="default: OUT/fig1.png")
    args = parser.parse_args()
    if not args.example and not (args.ref and args.pool and args.events):
        parser.error("give --ref, --pool and --events (your data), or --example")
    common = dict(EXAMPLE) if args.example else {}
    common.update(dict(item.split("=", 1) for item in args.set))
    if args.example:
        inputs = example_inputs(args.out)
    else:
        targets = {k: v for k, v in (("ref", args.ref), ("labels", args.labels)) if v}
        inputs = {
            "noise": dict(targets),
            "mask": dict(targets),
            "interference": {**targets, **({"pool": args.pool} if args.pool else {})},
            "permute": {"pool": args.events} if args.events else {},
        }
    opts = ExtractionOptions(device=args.device)
    try:
        folders = [run_panel(panel, args.out, {**common, **inputs[panel]}, opts) for panel in PANELS]
    except AudiometricError as err:
        sys.exit(f"error: {err}")
    figure = args.figure or args.out / "fig1.png"
    assemble(folders, figure)
    print(f"wrote {figure}")


if __name__ == "__main__":
    main()
