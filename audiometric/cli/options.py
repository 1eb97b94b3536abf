"""Options shared by several commands: extraction (score, embed, stats, compare, sweep), ``--overwrite`` (every
writer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from audiometric import backbones
from audiometric.backbones.weights import checkpoint_map
from audiometric.errors import AudiometricError


def extraction_options(func: Callable) -> Callable:
    """Device, precision, batching, preprocessing, checkpoint and cache options."""
    options = [
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option(
            "--precision",
            type=click.Choice(backbones.PRECISIONS),
            default="fp32",
            show_default=True,
            help="Run each network in fp32, or under fp16/bf16 autocast (front ends stay float32) where its "
            "backbone allows it (`audiometric backbones` lists which; differences: docs/metrics.md).",
        ),
        click.option(
            "--batch-size",
            default=16,
            show_default=True,
            type=click.IntRange(1),
            help="Clips per forward pass (only equal-length clips share a batch).",
        ),
        click.option(
            "--workers", default=2, show_default=True, type=click.IntRange(0), help="Decode/resample worker processes."
        ),
        click.option(
            "--channels",
            type=click.Choice(["first", "mean"]),
            default="first",
            show_default=True,
            help="Channel 0 (as audioldm_eval) or the mean of all channels.",
        ),
        click.option(
            "--max-seconds",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Use only the first S seconds of each file (default: whole file, as audioldm_eval).",
        ),
        click.option(
            "--checkpoint",
            "checkpoints",
            multiple=True,
            metavar="NAME=PATH",
            help="Use a local checkpoint file for backbone NAME (repeatable).",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the embedding cache."),
        click.option(
            "--allow-truncated",
            is_flag=True,
            help="Score files that decode shorter than their header says (warn) instead of skipping them.",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_outputs(outputs: Mapping[str, tuple[str | None, str]], inputs: Sequence[str], overwrite: bool) -> None:
    """Each given output (flag -> (path or ``None``, kind)) checked by the output policy before any work, so a bad
    path does not cost the whole run (:func:`audiometric.runtime.outputs.check_file`)."""
    from audiometric.runtime.outputs import check_file

    for flag, (path, kind) in outputs.items():
        if path is not None:
            check_file(path, kind, flag=flag, inputs=inputs, overwrite=overwrite)


def backbone_param_option(func: Callable) -> Callable:
    """``--param KEY=VALUE`` (repeatable): a backbone setting, e.g. ``layer=6`` for wavlm-base-plus."""
    return click.option(
        "--param",
        "backbone_params",
        multiple=True,
        metavar="KEY=VALUE",
        callback=key_values,
        help="Backbone setting (repeatable), given to each backbone of the run that takes KEY: "
        "layer=N for wavlm-base-plus (default: its last layer). `audiometric backbones` lists them.",
    )(func)


def extraction_kwargs(
    device: str,
    precision: str,
    batch_size: int,
    workers: int,
    channels: str,
    max_seconds: float | None,
    checkpoints: tuple[str, ...],
    no_cache: bool,
    allow_truncated: bool,
    no_progress: bool,
    backbone_params: dict[str, str] | None = None,
) -> dict:
    """The parsed options as keyword arguments of :mod:`audiometric.api` (``NAME=PATH`` values checked here)."""
    return {
        **({"backbone_params": backbone_params} if backbone_params else {}),
        "device": device,
        "precision": precision,
        "batch_size": batch_size,
        "workers": workers,
        "channels": channels,
        "max_seconds": max_seconds,
        "checkpoints": checkpoint_map(checkpoints),
        "cache": not no_cache,
        "allow_truncated": allow_truncated,
        "progress": not no_progress,
    }


backbone_choice = click.Choice(backbones.available())


def backbone_options(help: str = "Network for FD, IS, KL and KAD.", fad_help: str = "Network for FAD.") -> Callable:
    """``--backbone`` and ``--fad-backbone``: the two backbone slots of a run, at the API's defaults."""
    from audiometric.api import DEFAULT_BACKBONE, DEFAULT_FAD_BACKBONE

    def add(func: Callable) -> Callable:
        func = click.option(
            "--fad-backbone", type=backbone_choice, default=DEFAULT_FAD_BACKBONE, show_default=True, help=fad_help
        )(func)
        return click.option("--backbone", type=backbone_choice, default=DEFAULT_BACKBONE, show_default=True, help=help)(
            func
        )

    return add


def bootstrap_options(default: int, help: str) -> Callable:
    """``--bootstrap N`` (replicates, ``default``) and ``--confidence`` (the coverage of the intervals)."""

    def add(func: Callable) -> Callable:
        func = click.option(
            "--confidence",
            default=0.95,
            show_default=True,
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="Coverage of the bootstrap intervals.",
        )(func)
        return click.option(
            "--bootstrap", default=default, show_default=True, type=click.IntRange(0), metavar="N", help=help
        )(func)

    return add


#: ``--strict``: stop at an unusable input file (score, compare, embed, stats).
strict_option = click.option("--strict", is_flag=True, help="Fail on the first unusable file instead of skipping it.")

#: ``--json PATH|-``: the result with provenance (score, compare).
json_option = click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="PATH",
    help="Write the result with provenance; '-' writes it to stdout (the table then goes to stderr).",
)


def metric_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """Parse ``fd,IS,kl,fd@vggish`` into checked metric requests (metric names in any case)."""
    from audiometric.api import metric_names

    try:
        return metric_names(value)
    except AudiometricError as err:
        raise click.BadParameter(str(err)) from None


def metrics_option(default: Sequence[str], help: str) -> Callable:
    """``--metrics``: comma-separated metric names, each optionally ``METRIC@BACKBONE`` (score, stats, compare)."""
    return click.option(
        "--metrics",
        default=",".join(default),
        show_default=True,
        callback=metric_list,
        help=f"{help} METRIC@BACKBONE computes a metric on another backbone (fd@vggish, kl@panns-cnn14-32k); "
        "its result key is the same.",
    )


#: ``--prompts``: each clip's caption by name, for ``clap_score`` (score, compare, sweep).
prompts_option = click.option(
    "--prompts",
    type=click.Path(dir_okay=False),
    metavar="CSV",
    help="Each clip's caption by name, for clap_score: a file,caption CSV or the manifest.json of `generate`.",
)


def corruption_param_option(help: str) -> Callable:
    """``--param/-p KEY=VALUE`` (repeatable): a corruption parameter, parsed into ``params`` (corrupt, sweep)."""
    return click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE", callback=key_values, help=help)


def key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """Click callback parsing repeated ``KEY=VALUE`` options (``--param``) into a dict."""
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{value}' is not KEY=VALUE")
        pairs[key.strip()] = text.strip()
    return pairs


def _flag_value(value: Any, repeatable: bool) -> Any:
    """A YAML value as click takes it from ``default_map``: a tuple for a repeatable flag, a list joined by
    commas for any other."""
    if repeatable:
        return tuple(map(str, value)) if isinstance(value, (list, tuple)) else (str(value),)
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def config_option(read: Callable[[str], dict[str, Any]], help: str) -> Callable:
    """``--config FILE``: its options become click's ``default_map``, so a flag given on the command line
    wins, the file comes next and each option's own default last (one merge for every command).

    ``read(path)`` returns the file's options by parameter name. A ``params`` mapping (corruption
    parameters) is kept aside in ``ctx.meta["config_params"]``: it merges key by key with ``--param``.
    """

    def load(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            options = read(value)
            ctx.meta["config_params"] = dict(options.pop("params", None) or {})
            # a YAML list is what the flag takes comma-separated (click would str() it); a repeatable flag
            # (``--checkpoint``) takes the list, or a single value as a list of one
            repeatable = {p.name for p in ctx.command.params if getattr(p, "multiple", False)}
            flat = {k: _flag_value(v, k in repeatable) for k, v in options.items()}
            ctx.default_map = {**(ctx.default_map or {}), **flat}
        return value

    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load,
        help=help,
    )


#: ``--overwrite``: the one flag that lets a command replace an output the policy would refuse
#: (:mod:`audiometric.runtime.outputs`).
overwrite_option = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing output that is not of this command's kind, or take over a folder of another run "
    "(its files of the same names are replaced; nothing else is deleted).",
)
