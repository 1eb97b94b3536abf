"""``audiometric score GEN_DIR REF``: parse options and call :func:`audiometric.score.score`."""

from __future__ import annotations

import click

from ..evaluate import REQUESTABLE, Settings
from ..report import table, write_csv, write_json
from ..score import score as run_score
from .options import backbone_choice, extraction_options, extraction_settings


def metric_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """Parse ``fd,is,kl`` into known metric names."""
    names = tuple(dict.fromkeys(m.strip() for m in value.split(",") if m.strip()))
    unknown = [m for m in names if m not in REQUESTABLE]
    if unknown or not names:
        raise click.BadParameter(f"unknown metric(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(REQUESTABLE)}")
    return names


@click.command("score")
@click.argument("generated", type=click.Path())
@click.argument("reference", type=click.Path())
@click.option("--metrics", default="fd,is,kl,fad", show_default=True, callback=metric_list,
              help=f"Comma-separated, from: {', '.join(REQUESTABLE)}.")
@click.option("--backbone", type=backbone_choice, default="panns-cnn14-16k", show_default=True,
              help="Network for FD, IS, KL and KAD.")
@click.option("--fad-backbone", type=backbone_choice, default="vggish", show_default=True, help="Network for FAD.")
@click.option("--compat", is_flag=True,
              help="audioldm_eval's Fréchet arithmetic (scipy sqrtm) and FAD input (int16 PCM, channel mean, no DC "
                   "removal, resampy kaiser_best, clips under 0.975 s left out); needs audiometric[compat].")
@click.option("--bootstrap", default=0, type=click.IntRange(0), help="Bootstrap replicates for confidence intervals.")
@click.option("--confidence", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--fd-inf", is_flag=True, help="Also report FD∞ / FAD∞ (extrapolation to infinitely many clips).")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap and FD∞ resampling.")
@click.option("--strict", is_flag=True, help="Fail on the first unusable file instead of skipping it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the result with provenance.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per metric.")
@click.option("--per-clip", "per_clip_path", type=click.Path(dir_okay=False),
              help="Write one row per generated clip, worst first: its Fréchet distance to the reference Gaussian, "
                   "its KL to its paired reference clip, its top classes.")
@click.option("--ci-method", type=click.Choice(["percentile", "basic"]), default="percentile", show_default=True,
              help="Bootstrap interval: percentile, or basic (centred, corrects the small-N bias).")
@extraction_options
def score(generated, reference, metrics, backbone, fad_backbone, compat, bootstrap, confidence, fd_inf, seed, strict,
          json_path, csv_path, per_clip_path, ci_method, **extraction):
    """Score the audio files in GENERATED against REFERENCE (a folder, or a .npz from `audiometric stats`)."""
    if per_clip_path and not {"fd", "fad", "kl"} & set(metrics):
        raise click.BadParameter("ranks clips by fd, fad or kl: add one of them to --metrics", param_hint="--per-clip")
    settings = Settings(metrics, backbone, fad_backbone, compat, bootstrap, confidence, fd_inf, seed, ci_method)
    result = run_score(generated, reference, settings, extraction_settings(strict=strict, **extraction), per_clip_path)
    if result is None:  # a non-zero torchrun rank: rank 0 reports
        return
    if json_path:
        write_json(result, json_path)
    if csv_path:
        write_csv(result, csv_path)
    click.echo(table(result))
