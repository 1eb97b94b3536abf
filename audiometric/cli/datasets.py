"""``audiometric datasets``: list the registered datasets, check a local copy, export a reference set."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from audiometric import datasets as registry
from audiometric.cli.options import overwrite_option
from audiometric.datasets import audiocaps, audioset
from audiometric.errors import AudiometricError

#: ``--file-pattern``'s help, with each dataset's default (stated in its module).
FILE_PATTERN_HELP = (
    "AudioCaps/AudioSet audio file names under --audio-dir, built from {youtube_id}, {start_time} (as written "
    "in the CSV), {start_seconds} (integer seconds) and {split}.  [default: audiocaps "
    f"{audiocaps.PATTERN}, audioset {audioset.PATTERN}]"
)
AUDIO_DIR_HELP = "AudioCaps/AudioSet audio folder.  [default: DATA_DIR/audio]"


def dataset_options(required: bool = True):
    """--dataset, --data-dir, --split, --eval-size, --subset-seed, prompts and missing-file handling."""
    options = [
        click.option("--dataset", required=required, help=f"One of: {', '.join(registry.available())}."),
        click.option(
            "--data-dir", required=required, type=click.Path(), help="The dataset's root folder (csv: the file)."
        ),
        click.option("--split", default=None, help="Split to use (default: the dataset's test split)."),
        click.option("--eval-size", type=click.IntRange(1), default=None, help="Seeded random subset of N clips."),
        click.option("--subset-seed", default=0, show_default=True, help="Seed of the --eval-size subset."),
        click.option("--prompt-template", default=None, help='E.g. "the sound of {label}" ({label}, {caption}).'),
        click.option(
            "--captions",
            type=click.Path(dir_okay=False),
            default=None,
            help="JSON map from clip id or label to prompt.",
        ),
        click.option("--file-pattern", default=None, help=FILE_PATTERN_HELP),
        click.option("--audio-dir", type=click.Path(), default=None, help=AUDIO_DIR_HELP),
        click.option("--skip-missing", is_flag=True, help="Leave out clips whose audio file is missing (recorded)."),
    ]
    return lambda command: functools.reduce(lambda f, option: option(f), reversed(options), command)


def load_items(
    dataset, data_dir, split, eval_size, subset_seed, prompt_template, captions, file_pattern, audio_dir, skip_missing
):
    """(items, provenance) for the dataset options of :func:`dataset_options`."""
    spec = registry.get(dataset)
    caption_map = None
    if captions:
        try:
            caption_map = json.loads(Path(captions).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise AudiometricError(f"--captions {captions}: not a readable JSON object ({err})") from None
        if not isinstance(caption_map, dict):
            raise AudiometricError(f"--captions {captions}: must be a JSON object mapping clip id or label to prompt")
    options = {k: v for k, v in {"file_pattern": file_pattern, "audio_dir": audio_dir}.items() if v is not None}
    missing: list[Path] = []
    items = spec.items(
        data_dir, split, eval_size, subset_seed, prompt_template, caption_map, skip_missing, missing, **options
    )
    provenance = {
        "dataset": dataset,
        "data_dir": str(Path(data_dir).resolve()),
        "split": split or spec.default_split,
        "eval_size": eval_size,
        "seed": subset_seed,
        "prompt_template": prompt_template,
        "skipped_missing": [str(p) for p in missing],
    }
    return items, provenance


@click.group("datasets", invoke_without_command=True)
@click.option("--list", "show", is_flag=True, help="List the registered datasets and their layouts.")
@click.pass_context
def datasets(ctx: click.Context, show: bool) -> None:
    """Dataset loaders: --list them, check a local copy, export a reference set."""
    if show or ctx.invoked_subcommand is None:
        for name in registry.available():
            spec = registry.get(name)
            click.echo(
                f"{name:10s} {spec.title}\n{'':10s} layout: {spec.layout}\n{'':10s} splits: {spec.splits} "
                f"(default {spec.default_split})"
            )


@datasets.command(
    "check",
    epilog="""\b
Examples:
  audiometric datasets check --dataset us8k --data-dir UrbanSound8K
  audiometric datasets check --dataset esc50 --data-dir ESC-50-master --split test
  audiometric datasets check --dataset audiocaps --data-dir audiocaps --audio-dir audiocaps/wav""",
)
@click.option("--dataset", required=True, help=f"One of: {', '.join(registry.available())}.")
@click.option("--data-dir", required=True, type=click.Path(), help="The dataset's folder (official layout).")
@click.option("--split", "splits", multiple=True, help="Splits to check (default: the dataset's usual partition).")
@click.option("--file-pattern", default=None, help=FILE_PATTERN_HELP)
@click.option("--audio-dir", type=click.Path(), default=None, help=AUDIO_DIR_HELP)
def check(dataset, data_dir, splits, file_pattern, audio_dir):
    """Count clips per split and class, and list missing audio files and those that do not decode."""
    from audiometric.datasets.check import check as run_check
    from audiometric.datasets.check import format_check

    options = {k: v for k, v in {"file_pattern": file_pattern, "audio_dir": audio_dir}.items() if v is not None}
    result = run_check(registry.get(dataset), data_dir, splits or None, **options)
    click.echo(format_check(result))
    for split, info in result.items():
        for entry in info.get("unusable", []):
            click.echo(f"warning: {split}: unusable audio {entry['file']}: {entry['reason']}", err=True)


@datasets.command(
    "export",
    epilog="""\b
Examples:
  audiometric datasets export --dataset esc50 --data-dir ESC-50-master --split test --eval-size 400 --out ref/esc50
  audiometric datasets export --dataset us8k --data-dir UrbanSound8K --split all --eval-size 870 --out ref/us8k
  audiometric datasets export --dataset csv --data-dir clips.csv --out ref/mine --duration 5""",
)
@dataset_options()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for {clip_id}.wav files.")
@click.option(
    "--duration",
    default=10.24,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds each clip is cut or zero-padded to.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@overwrite_option
def export(out, duration, no_progress, overwrite, **options):
    """Write the reference clips as 16 kHz PCM_16 WAVs named as `generate` names its outputs."""
    from audiometric.datasets.export import export as run_export

    items, provenance = load_items(**options)
    record = run_export(items, out, duration, provenance, progress=not no_progress, overwrite=overwrite)
    click.echo(f"exported {len(record['clips'])} clips of {provenance['dataset']} ({provenance['split']}) to {out}")
