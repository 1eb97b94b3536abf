"""``audiometric sweep``: parse options (flags over ``--config`` YAML) and call :func:`audiometric.sweep.run_sweep`."""

from __future__ import annotations

from pathlib import Path

import click

from audiometric.cli.options import (
    backbone_options,
    config_option,
    corruption_param_option,
    extraction_kwargs,
    extraction_options,
    overwrite_option,
    prompts_option,
)
from audiometric.metrics import DEFAULT_METRICS, METRICS
from audiometric.sweep.spec import ALIASES, CONFIG_KEYS, levels_help, load_config

_EXTRACTION_KEYS = ("device", "batch_size", "workers")
_SWEEP_KEYS = tuple(k for k in CONFIG_KEYS if k not in _EXTRACTION_KEYS + ("params",))


@click.command(
    "sweep",
    epilog="""\b
Examples:
  audiometric sweep --corruption noise --ref examples/data/ref --out runs/noise --backbone aisfx --metrics fd,kad --seeds 2
  audiometric sweep --corruption permute --pool esc50_by_class/ --out runs/permute --levels 0,2,3,4 --bootstrap 200
  audiometric sweep --config experiments/fig1_interference.yaml --ref us8k_ref/ --pool esc50_by_class/ --out runs/interference
  audiometric sweep -c noise --ref ref/ --out runs/clap --metrics clap_score,clap_pair --prompts captions.csv""",
)
@config_option(load_config, "YAML file holding these options (keys as the flags, with _); flags override it.")
@click.option(
    "--corruption",
    "-c",
    metavar="NAME",
    help=f"Registry name or alias ({', '.join(f'{k}={v}' for k, v in ALIASES.items())}).",
)
@click.option("--ref", type=click.Path(), help="Folder of clean reference clips (permute: composed from --pool).")
@click.option("--out", type=click.Path(), help="Output folder (cells, results, summary, figure); reruns resume.")
@click.option("--pool", type=click.Path(exists=True), help="Labelled clips: a folder per class or a path,label CSV.")
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV path,label: each reference clip's class (interference), else its folder.",
)
@click.option("--levels", help=f"Comma-separated severities including 0. Defaults: {levels_help()}.")
@click.option(
    "--metrics",
    default=",".join(DEFAULT_METRICS),
    show_default=True,
    help=f"Comma-separated, from: {', '.join(METRICS)}; METRIC@BACKBONE for another backbone (fd@vggish).",
)
@backbone_options()
@click.option(
    "--seeds",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Seeds 0..N-1; each redraws the corruption (and the split).",
)
@click.option(
    "--bootstrap",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Bootstrap replicates for each cell's CI and the paired CI of each level's change (0: the CI "
    "over seeds). Detection does not depend on it (a within-pair swap test).",
)
@click.option(
    "--confidence",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Level of the CIs; the detection tests run at alpha = 1 - confidence.",
)
@click.option(
    "--protocol",
    type=click.Choice(["split", "paired"]),
    default="split",
    show_default=True,
    help="split: corrupted half A vs clean half B; paired: corrupted set vs the whole clean set.",
)
@corruption_param_option(
    "Corruption parameter, repeatable (see `audiometric corrupt --list`); permute also takes the --compose parameters."
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on the first unusable reference file instead of skipping it (skips are named on stderr).",
)
@prompts_option
@click.option("--keep-audio", is_flag=True, help="Keep each cell's corrupted WAV files under OUT_DIR/cells.")
@click.option("--pdf", is_flag=True, help="Also write figure.pdf.")
@overwrite_option
@extraction_options
@click.pass_context
def sweep(ctx: click.Context, **options):
    """Score every metric against rising corruption severity, with error bars and a verdict per metric."""
    from audiometric.sweep import make_spec, run_sweep

    options["params"] = {**ctx.meta.get("config_params", {}), **options["params"]}  # --param wins, key by key
    spec = make_spec({k: options.pop(k) for k in _SWEEP_KEYS + ("params",)})
    overwrite = options.pop("overwrite")
    from audiometric.api import extraction_options as checked_options

    strict = options.pop("strict")
    counters = run_sweep(spec, checked_options(strict=strict, **extraction_kwargs(**options)), overwrite)
    if counters is None:  # a non-zero torchrun rank: rank 0 reports
        return
    click.echo((Path(spec.out) / "summary.md").read_text().rstrip())
    click.echo(
        f"cells: {counters['cells_computed']} computed, {counters['cells_resumed']} resumed; backbone passes: "
        f"{counters['reference_backbone_passes']} reference + {counters['cell_backbone_passes']} corrupted "
        f"clips; wrote {spec.out}/results.csv, results.json, summary.md, summary.json, figure.png"
    )
