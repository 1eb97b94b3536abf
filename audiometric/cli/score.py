"""``audiometric score GEN REF``: parse options and call :func:`audiometric.api.score`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from audiometric.api import MIN_BOOTSTRAP
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

if TYPE_CHECKING:
    from audiometric.scoring.result import Result

EXAMPLES = """\b
Examples:
  audiometric score gen/ ref/ --json result.json --csv result.csv
  audiometric score gen/ ref.npz --metrics FD,IS --json - > result.json
  audiometric score gen.npz ref.npz --metrics fd,kad --backbone aisfx --bootstrap 1000
  audiometric score gen/ ref/ --metrics fd,kl,fd@vggish,kad@aisfx --json result.json
  audiometric score gen/ ref/ --metrics fd,clap_score,clap_pair --prompts captions.csv"""


@click.command("score", epilog=EXAMPLES)
@click.argument("generated", type=click.Path())
@click.argument("reference", type=click.Path())
@metrics_option(
    DEFAULT_METRICS,
    f"Comma-separated, any case, from: {', '.join(METRICS)} (kl reports a softmax and a sigmoid value).",
)
@backbone_options()
@click.option(
    "--compat",
    is_flag=True,
    help="audioldm_eval's Fréchet arithmetic (scipy sqrtm) and FAD input (int16 PCM, channel mean, no DC "
    "removal, resampy kaiser_best, clips under 0.975 s left out); needs audiometric[compat].",
)
@bootstrap_options(0, f"Bootstrap replicates for confidence intervals (0: none; below {MIN_BOOTSTRAP} warns).")
@click.option("--fd-inf", is_flag=True, help="Also report FD∞ / FAD∞ (extrapolation to infinitely many clips).")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap and FD∞ resampling.")
@strict_option
@json_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), metavar="PATH", help="Write one row per metric.")
@click.option(
    "--per-clip",
    "per_clip_path",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Write one row per generated clip, worst first: its Fréchet distance to the reference Gaussian, "
    "its KL to its paired reference clip, its top classes.",
)
@prompts_option
@click.option(
    "--ci-method",
    type=click.Choice(["percentile", "basic"]),
    default="percentile",
    show_default=True,
    help="Bootstrap interval: percentile, or basic (centred, corrects the small-N bias).",
)
@overwrite_option
@extraction_options
@backbone_param_option
def score(
    generated,
    reference,
    metrics,
    backbone,
    fad_backbone,
    compat,
    bootstrap,
    confidence,
    fd_inf,
    seed,
    strict,
    json_path,
    csv_path,
    per_clip_path,
    prompts,
    ci_method,
    overwrite,
    **extraction,
):
    """Score the audio in GENERATED against REFERENCE.

    GENERATED is a folder of audio files or a .npz from `audiometric embed`; REFERENCE is either of those
    or a .npz from `audiometric stats`. Exits with status 1 when none of the requested metrics could be
    computed (the reasons are in the table and the JSON).
    """
    from audiometric.api import score as run

    outputs = {"--json": (json_path, "json"), "--csv": (csv_path, "csv"), "--per-clip": (per_clip_path, "csv")}
    check_outputs(outputs, (generated, reference), overwrite)
    result = run(
        generated,
        reference,
        metrics,
        backbone,
        fad_backbone=fad_backbone,
        compat=compat,
        bootstrap=bootstrap,
        confidence=confidence,
        ci_method=ci_method,
        fd_inf=fd_inf,
        seed=seed,
        strict=strict,
        per_clip=per_clip_path,
        prompts=prompts,
        overwrite=overwrite,
        **extraction_kwargs(**extraction),
    )
    if result is None:  # a non-zero torchrun rank: rank 0 reports
        return
    _write(result, json_path, csv_path)
    if not len(result):
        click.echo(
            f"error: none of the requested metrics ({', '.join(metrics)}) could be computed; "
            "the reasons are listed above",
            err=True,
        )
        sys.exit(1)


def _write(result: Result, json_path: str | None, csv_path: str | None) -> None:
    """Write the result's JSON (``-``: to stdout) and CSV, then its table (to stderr when the JSON is on stdout)."""
    to_stdout = json_path == "-"
    if json_path:
        text = result.to_json(None if to_stdout else json_path)
        if to_stdout:
            click.echo(text, nl=False)
    if csv_path:
        result.to_csv(csv_path)
    click.echo(result.table(), err=to_stdout)
