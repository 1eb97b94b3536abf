"""The sensitivity atlas: for every encoder x corruption, which metric detects the damage, and from which level.

One sweep per encoder and corruption (noise, mel masking, interference, event permutation) on one
folder, each ``audiometric.sweep.run_sweep`` in ``OUT/<encoder>/<corruption>/``. The verdicts and
thresholds are the sweep's paired tests (docs/sweeps.md, docs/statistics.md). Finished cells and the
embedding cache are reused, so adding an encoder costs only that encoder's passes. Writes
``OUT/atlas.csv`` (encoder, weights, corruption, metric, rho, threshold, verdict, and the lowest level visible
in a system comparison), ``OUT/atlas.png`` (a
heatmap of thresholds, cells marked where the metric does not detect) and ``OUT/atlas.md``.

    # where the weights are at hand (paths in the YAML)
    python experiments/atlas.py --config experiments/atlas.yaml
    # offline, the bundled example: trained aisfx, and the other encoders with random weights (official layouts)
    python experiments/atlas.py --example --random-weights runs/atlas-example/weights --out runs/atlas-example
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from audiometric.backbones import spec as backbone_spec
from audiometric.backbones.hf import CLASSES
from audiometric.errors import AudiometricError
from audiometric.metrics import get_metric
from audiometric.runtime.atomic import atomic_write, atomic_write_text, current_umask
from audiometric.scoring.pipeline import ExtractionOptions
from audiometric.sweep import make_spec, run_sweep

HERE = Path(__file__).resolve().parent
CORRUPTIONS = ("noise", "mask", "interference", "permute")
#: Backbones whose random weights --random-weights can write: the model class and the checkpoint's wrapping key.
RANDOM_LAYOUTS = {
    "panns-cnn14-16k": ("audiometric.backbones.panns", "Cnn14At16k", "model"),
    "panns-cnn14-32k": ("audiometric.backbones.panns", "Cnn14At32k", "model"),
    "vggish": ("audiometric.backbones.vggish", "VGGish", None),
    "passt": ("audiometric.backbones.passt", "Passt", None),  # the class's defaults are the official layout
}
#: The transformers backbones (``hf.CLASSES``) are built from these official configs, ``save_pretrained``.
OFFICIAL_CONFIGS = HERE.parent / "tests" / "data" / "encoder_configs.json"
#: The random-weight encoders of ``--example --random-weights``, in the table's order (cheapest first).
RANDOM_ENCODERS = (
    *("panns-cnn14-16k", "vggish", "encodec-24k", "clap-laion"),
    *("passt", "ast-audioset", "wavlm-base-plus", "dac-44k"),
)
#: The example's smaller grid for the encoders that are slow on one CPU core (transformers and PaSST pad
#: each 4 s clip to their 10 s windows; DAC's encoder runs wide convolutions at 44.1 kHz): 2 seeds, and
#: 3 of the default levels per corruption, so their cells are a subset of the full grid's.
SMALL_GRID = {
    "seeds": 2,
    "levels": {"noise": [0, 0.1, 1], "mask": [0, 0.2, 0.4], "interference": [0, 1, 3], "permute": [0, 2, 4]},
}
#: The per-frame encoders with wide frames (WavLM 768-d and DAC 1024-d, 50 and 86 frames a second) make
#: each cell's swap test slow (199 FD and KAD replicates on about 1200-2000 rows: 2 min a cell on one core
#: for WavLM): the example runs them on noise and masking only.
FRAME_GRID = {**SMALL_GRID, "corruptions": ["noise", "mask"]}
COLUMNS = ("encoder", "weights", "seeds", "corruption", "metric", "rho", "threshold", "verdict", "visible_from")


def read_config(path: Path) -> dict[str, Any]:
    """The atlas YAML as a dict (one-line error for a missing or malformed file)."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise AudiometricError(f"--config {path}: cannot read it ({err}); see experiments/atlas.yaml") from None
    if not isinstance(config, dict) or not config.get("encoders"):
        raise AudiometricError(f"--config {path}: needs an 'encoders:' list; see experiments/atlas.yaml")
    return config


def encoder_label(encoder: dict) -> str:
    """The encoder's row name: its registry name, marked where its weights are random."""
    return f"{encoder['name']} (random)" if encoder.get("random") else str(encoder.get("label", encoder["name"]))


def write_random_weights(name: str, folder: Path, seed: int = 0, configs: Path = OFFICIAL_CONFIGS) -> Path:
    """A checkpoint of ``name``'s official layout with its class's own random initialisation (seeded).

    A ``.pth`` state dict for the torch backbones, a ``save_pretrained`` folder ``folder/name`` for the
    transformers ones (from their entry in ``configs``: ``config`` and ``preprocessor`` keywords). Front
    ends (DFT and mel matrices, feature extractors) are the classes' own; only learned weights are random. Such a network says something
    about the architecture, nothing about training. An existing checkpoint is reused as it is.
    """
    import importlib

    import torch

    if name in CLASSES:
        return _write_hf_random(name, folder / name, seed, json.loads(configs.read_text())[name])
    if name not in RANDOM_LAYOUTS:
        choices = ", ".join([*RANDOM_LAYOUTS, *CLASSES])
        raise AudiometricError(f"random weights: no layout for '{name}'; choose from {choices}")
    module, cls, key = RANDOM_LAYOUTS[name]
    path = folder / f"{name}-random-seed{seed}.pth"
    if not path.exists():
        torch.manual_seed(seed)
        state = getattr(importlib.import_module(module), cls)().state_dict()
        atomic_write(path, lambda handle: torch.save({key: state} if key else state, handle))
    return path


def _write_hf_random(name: str, target: Path, seed: int, official: dict) -> Path:
    """``save_pretrained`` of a seeded random ``name`` in its official config into ``target`` (atomic rename)."""
    import shutil
    import tempfile

    import torch

    from audiometric.backbones.hf import require_transformers

    if (target / "config.json").is_file():
        return target
    transformers = require_transformers(name)
    model_class, features_class = (getattr(transformers, c) for c in CLASSES[name])
    torch.manual_seed(seed)
    model = model_class(model_class.config_class(**official["config"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(partial)
        features_class(**official["preprocessor"]).save_pretrained(partial)
        partial.chmod(0o777 & ~current_umask())  # mkdtemp's 0o700 -> what mkdir would have given
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def example_inputs(data: Path, out: Path) -> dict[str, dict]:
    """The bundled example (written to ``data`` if missing) as per-corruption inputs, with label CSVs in ``out``."""
    if not (data / "ref").is_dir():
        spec = importlib.util.spec_from_file_location("make_example", HERE.parent / "examples" / "make_example.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(data)
    out.mkdir(parents=True, exist_ok=True)

    def table(name: str, files: list[Path], relative: bool) -> str:
        lines = [("path", "label")] + [(f.name if relative else str(f.resolve()), f.name.split("_")[0]) for f in files]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(lines)
        (out / name).write_text(buffer.getvalue())
        return str(out / name)

    ref, gen = sorted((data / "ref").glob("*.wav")), sorted((data / "gen").glob("*.wav"))
    targets = {"ref": str(data / "ref"), "labels": table("labels.csv", ref, relative=True)}
    return {
        "noise": {"ref": targets["ref"]},
        "mask": {"ref": targets["ref"]},
        "interference": {**targets, "pool": table("interference-pool.csv", gen, relative=False)},
        "permute": {"pool": table("event-pool.csv", ref + gen, relative=False)},
    }


def config_inputs(config: dict) -> dict[str, dict]:
    """Per-corruption inputs from the YAML's ``ref``, ``labels``, ``pool`` and ``events``."""
    targets = {k: str(config[k]) for k in ("ref", "labels") if config.get(k)}
    pool = {"pool": str(config["pool"])} if config.get("pool") else {}
    return {
        "noise": dict(targets),
        "mask": dict(targets),
        "interference": {**targets, **pool},
        "permute": {"pool": str(config["events"])} if config.get("events") else {},
    }


def metrics_for(encoder: str, metrics: list[str]) -> list[str]:
    """The metrics ``encoder`` can give (the output each reads, from the registries)."""
    outputs = backbone_spec(encoder).outputs
    return [m for m in metrics if get_metric(m).output in outputs]


def run_atlas(config: dict, inputs: dict[str, dict], out: Path, opts: ExtractionOptions) -> list[dict]:
    """One sweep per encoder x corruption; the atlas rows (atlas.csv/png/md rewritten after each encoder).

    An encoder entry's ``seeds`` and ``levels`` (corruption -> list) override the config's for it alone,
    and its ``corruptions`` (a list) keeps only those corruptions for it (the others show as "not run").
    """
    raw = config.get("metrics") or "fd,kad"
    metrics = [str(m).strip() for m in (raw if isinstance(raw, list) else str(raw).split(","))]
    corruptions = config.get("corruptions") or {c: {} for c in CORRUPTIONS}
    rows: list[dict] = []
    for encoder in config["encoders"]:
        name, label = str(encoder["name"]), encoder_label(encoder)
        usable = metrics_for(name, metrics)
        if not usable:
            print(f"{label}: none of {', '.join(metrics)} can run on it (outputs: {backbone_spec(name).outputs})")
            continue
        checkpoints = {name: str(encoder["checkpoint"])} if encoder.get("checkpoint") else {}
        run_opts = ExtractionOptions(
            device=opts.device, workers=opts.workers, progress=opts.progress, checkpoints=checkpoints
        )
        weights = "random" if encoder.get("random") else ("checkpoint" if checkpoints else "default")
        for corruption, extra in corruptions.items():
            if corruption not in encoder.get("corruptions", corruptions):
                continue
            folder = out / label.replace(" ", "-").replace("(", "").replace(")", "") / corruption
            options = {
                **{k: config[k] for k in ("seeds", "bootstrap", "protocol") if k in config},
                **inputs.get(corruption, {}),
                **(extra or {}),
                **({"seeds": encoder["seeds"]} if "seeds" in encoder else {}),
                **({"levels": encoder["levels"][corruption]} if corruption in encoder.get("levels", {}) else {}),
                "corruption": corruption,
                "out": str(folder),
                "backbone": name,
                "fad_backbone": name,
                "metrics": ",".join(usable),
            }
            run_sweep(make_spec(options), run_opts)
            summary = json.loads((folder / "summary.json").read_text())
            rows += _rows(label, weights, corruption, summary, options.get("seeds"))
        write_outputs(rows, list(corruptions), out)
    return rows


def _rows(label: str, weights: str, corruption: str, summary: dict, seeds: object) -> list[dict]:
    return [
        {
            "encoder": label,
            "weights": weights,
            "seeds": seeds,
            "corruption": corruption,
            "metric": metric,
            "rho": r["rho"],
            "threshold": r["threshold"],
            "verdict": r["verdict"],
            "visible_from": next((t["level"] for t in r["levels"] if t["visible"]), None),
            "levels": [0.0] + [t["level"] for t in r["levels"]],
        }
        for metric, r in summary["metrics"].items()
    ]


def write_outputs(rows: list[dict], corruptions: list[str], out: Path) -> None:
    """atlas.csv, atlas.md and atlas.png from the atlas rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    atomic_write_text(out / "atlas.csv", buffer.getvalue())
    atomic_write_text(out / "atlas.md", markdown(rows, corruptions))
    heatmap(rows, corruptions, out / "atlas.png")


def _grid(rows: list[dict], corruptions: list[str]) -> tuple[list[str], dict[tuple[str, str], dict]]:
    """Row names (encoder · metric, in first-seen order) and the row of each (row name, corruption)."""
    names = list(dict.fromkeys(f"{r['encoder']} · {r['metric']}" for r in rows))
    return names, {(f"{r['encoder']} · {r['metric']}", r["corruption"]): r for r in rows}


def _cell_text(row: dict | None) -> str:
    if row is None:
        return "not run"
    rho = f"ρ {row['rho']:.2f}" if row["rho"] is not None else "ρ n/a"
    visible = f", visible from {row['visible_from']:g}" if row["visible_from"] is not None else ", never visible"
    if row["verdict"] == "detects":
        return f"**from {row['threshold']:g}**{visible} ({rho})"
    return f"does not detect ({rho})"


def markdown(rows: list[dict], corruptions: list[str]) -> str:
    """One row per encoder · metric, one column per corruption: the threshold where it detects."""
    names, cells = _grid(rows, corruptions)
    lines = ["| encoder · metric | " + " | ".join(corruptions) + " |", "|---|" + "---|" * len(corruptions)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_cell_text(cells.get((name, c))) for c in corruptions) + " |")
    return "\n".join(lines) + "\n"


def heatmap(rows: list[dict], corruptions: list[str], path: Path) -> None:
    """Thresholds as their position among each corruption's levels (1/k: the lowest level; 1: the highest)."""
    from audiometric.sweep.figure import plt, save

    names, cells = _grid(rows, corruptions)
    grid = np.full((len(names), len(corruptions)), np.nan)
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(corruptions), 1.0 + 0.5 * len(names)))
    for i, name in enumerate(names):
        for j, corruption in enumerate(corruptions):
            row = cells.get((name, corruption))
            if row is not None and row["verdict"] == "detects":
                above = row["levels"][1:]
                grid[i, j] = (above.index(row["threshold"]) + 1) / len(above)
                seen = f"\nvisible {row['visible_from']:g}" if row["visible_from"] is not None else "\nnever visible"
                ax.text(j, i, f"{row['threshold']:g}{seen}", ha="center", va="center", fontsize=7)
            else:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.92", hatch="xx", edgecolor="0.7"))
                ax.text(j, i, "not run" if row is None else "n.d.", ha="center", va="center", fontsize=7, color="0.3")
    image = ax.imshow(grid, cmap="viridis_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(corruptions)), corruptions, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    bar = fig.colorbar(image, ax=ax, fraction=0.05)
    bar.set_label("threshold: position among the levels\n(low: detects mild damage)", fontsize=7)
    ax.set_title(
        "Sensitivity atlas: detection threshold, and the level visible in a system comparison\n(n.d.: does not detect)",
        fontsize=9,
    )
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "atlas.yaml")
    parser.add_argument("--out", type=Path, help="default: the config's out")
    parser.add_argument("--example", action="store_true", help="the bundled example (offline), aisfx")
    parser.add_argument(
        "--random-weights", type=Path, metavar="DIR", help=f"also random weights in DIR: {', '.join(RANDOM_ENCODERS)}"
    )
    parser.add_argument(
        "--encoders", help="only these encoders (comma-separated names, or labels such as 'vggish (random)')"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. seeds=2")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    try:
        config = example_config(args.random_weights) if args.example else read_config(args.config)
        config.update({k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)})
        if args.random_weights and not args.example:
            config["encoders"] += [{"name": n, "random": True} for n in RANDOM_ENCODERS]
        if args.encoders:
            wanted = {e.strip() for e in args.encoders.split(",")}
            config["encoders"] = [e for e in config["encoders"] if wanted & {e["name"], encoder_label(e)}]
        for encoder in config["encoders"]:
            if encoder.get("random"):
                encoder["checkpoint"] = str(
                    write_random_weights(encoder["name"], args.random_weights or Path("weights"))
                )
        out = args.out or Path(config.get("out", "runs/atlas"))
        inputs = example_inputs(HERE.parent / "examples" / "data", out) if args.example else config_inputs(config)
        run_atlas(config, inputs, out, ExtractionOptions(device=args.device))
    except AudiometricError as err:
        sys.exit(f"error: {err}")
    print(f"wrote {out}/atlas.csv, atlas.md, atlas.png")


def example_config(random_weights: Path | None) -> dict:
    """The bundled example's atlas: aisfx (trained), and with ``random_weights`` every RANDOM_ENCODERS (random)."""
    encoders: list[dict] = [{"name": "aisfx"}]
    if random_weights:
        grids = {
            **{n: SMALL_GRID for n in ("passt", *CLASSES)},
            "wavlm-base-plus": FRAME_GRID,
            "dac-44k": FRAME_GRID,
        }
        encoders += [{"name": n, "random": True, **grids.get(n, {})} for n in RANDOM_ENCODERS]
    return {
        "metrics": ["fd", "kad"],
        "seeds": 3,
        "bootstrap": 0,
        "protocol": "split",
        "encoders": encoders,
        "corruptions": {
            "noise": {},
            "mask": {},
            "interference": {"params": {"snr_db": 0}},
            "permute": {"params": {"n_clips": 12, "n_events": 4, "event_max_s": 1.0}},
        },
    }


if __name__ == "__main__":
    main()
