"""``audiometric compare SYS_A SYS_B [SYS_C ...] --ref REF``: parse options and call :func:`audiometric.api.compare`."""

from __future__ import annotations

import sys

import click

from audiometric.cli.options import (
    backbone_options,
    backbone_param_option,
    bootstrap_options,
    check_outputs,
    extraction_kwargs,
    extraction_options,
    json_option,
    metrics_option,
    overwrite_option,
    prompts_option,
    strict_option,
)
from audiometric.metrics import DEFAULT_METRICS, METRICS

#: The output files: flag, parameter name, kind (the output policy's check of what may be replaced).
_OUTPUTS = (
    ("--json", "json_path", "json"),
    ("--csv", "csv_path", "csv"),
    ("--ranking", "ranking_path", "csv"),
    ("--report", "report_path", "html"),
)
#: The test plan's options, passed to :meth:`audiometric.api.Scorer.compare` as they are.
_PLAN = ("permutations", "bootstrap", "confidence", "alpha", "fd_inf", "seed")

EXAMPLES = """\b
Examples:
  audiometric compare gen_a/ gen_b/ --ref ref/ --json result.json --csv pairs.csv
  audiometric compare a/ b/ c/ --ref ref.npz --metrics fd,fad --ranking ranking.csv
  audiometric compare a/ b/ --ref ref/ --backbone aisfx --metrics fd,kad --report report.html
  audiometric compare a/ b/ --ref ref/ --metrics fd,clap_score --prompts a/manifest.json"""


@click.command("compare", epilog=EXAMPLES)
@click.argument("systems", nargs=-1, required=True, type=click.Path())
@click.option(
    "--ref",
    "reference",
    required=True,
    type=click.Path(),
    help="Reference: a folder, an `embed` .npz, or a `stats` .npz (then Fréchet metrics only).",
)
@metrics_option(DEFAULT_METRICS, f"Comma-separated, any case, from: {', '.join(METRICS)}.")
@backbone_options()
@click.option("--permutations", default=1000, show_default=True, type=click.IntRange(1), help="Permutations per test.")
@bootstrap_options(200, "Bootstrap replicates for the CIs (0: none).")
@click.option(
    "--alpha",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Significance level, after Holm correction across pairs × metrics.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of subsampling, bootstrap and permutations.")
@click.option("--fd-inf", is_flag=True, help="Keep unequal clip counts and also compare FD∞ / FAD∞ (no subsampling).")
@strict_option
@json_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), metavar="PATH", help="One row per pair and metric.")
@click.option(
    "--ranking",
    "ranking_path",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Ranking per metric with compact letters, as CSV.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    metavar="PATH.html",
    help="One self-contained HTML page: values ± CI, the pairwise table, the clips farthest from the reference.",
)
@prompts_option
@overwrite_option
@extraction_options
@backbone_param_option
def compare(systems, reference, metrics, backbone, fad_backbone, strict, prompts, overwrite, **options):
    """Compare two or more systems against one reference, with significance.

    Per pair and metric: both values, the difference B − A with a bootstrap CI, a permutation p-value
    (clips exchanged between systems; sign flips within name pairs for KL and clap_score), Holm-adjusted;
    with three or more systems a ranking with compact letters. Each SYSTEM is a folder of audio files or an
    `embed` .npz; with --prompts, every system's clips pair with the captions by name (clap_score).
    Exits with status 1 when no requested metric could be compared (the reasons are printed).
    """
    from audiometric.api import Scorer

    outputs = {flag: options.pop(name) for flag, name, _ in _OUTPUTS}
    check_outputs(
        {flag: (outputs[flag], kind) for flag, _, kind in _OUTPUTS}, (*systems, reference, prompts), overwrite
    )
    plan = {key: options.pop(key) for key in _PLAN}
    scorer = Scorer((backbone, fad_backbone), strict=strict, **extraction_kwargs(**options))
    report = outputs["--report"]
    result = scorer.compare(systems, reference, metrics, report=report, prompts=prompts, overwrite=overwrite, **plan)
    _show(result, outputs)
    if not any(pair["metrics"] for pair in result["pairs"]):
        click.echo(
            f"error: none of the requested metrics ({', '.join(metrics)}) could be compared; see above", err=True
        )
        sys.exit(1)


def _show(result: dict, outputs: dict[str, str | None]) -> None:
    """Write the requested files; print the table (to stderr when the JSON goes to stdout)."""
    from audiometric.scoring.compare import summary_table, write_outputs

    text = write_outputs(result, outputs["--json"], outputs["--csv"], outputs["--ranking"])
    if text is not None:
        click.echo(text, nl=False)
    click.echo(summary_table(result), err=text is not None)
