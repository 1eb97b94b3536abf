"""``audiometric finetune``: parse options (and an optional YAML config) and call the training loop."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from audiometric.cli.datasets import AUDIO_DIR_HELP, FILE_PATTERN_HELP
from audiometric.cli.options import config_option
from audiometric.errors import AudiometricError
from audiometric.ldm.train.config import TrainConfig, load_yaml
from audiometric.runtime.distributed import world

_REQUIRED = ("dataset", "data_dir", "model", "out")
#: Every option's default is the TrainConfig field's (stated once, there).
DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def _metrics(ctx, param, value):
    if value is None or not isinstance(value, str):  # a YAML list arrives as a list
        return None if value is None else tuple(value)
    return tuple(m.strip() for m in value.split(",") if m.strip())


def _checkpoints(ctx, param, value):
    """``NAME=PATH`` values, checked as score checks them (``--config``: a list, or one value)."""
    from audiometric.backbones.weights import checkpoint_map

    return tuple(f"{name}={path}" for name, path in checkpoint_map(value or ()).items())


@click.command(
    "finetune",
    epilog="""\b
Examples:
  audiometric finetune --dataset us8k --data-dir UrbanSound8K --model cvssp/audioldm-s-full-v2 --condition text --out runs/us8k-text
  audiometric finetune --config experiments/fig2_esc50.yaml --data-dir ESC-50-master --out runs/esc50 --resume latest
  audiometric finetune --dataset csv --data-dir clips.csv --model cvssp/audioldm-s-full-v2 --out runs/mine --checkpoint vggish=vggish.pth
  accelerate launch --multi_gpu --num_processes 8 -m audiometric finetune --dataset esc50 --data-dir ESC-50-master --model cvssp/audioldm-s-full-v2 --out runs/esc50-8gpu --world-size 8""",
)
@config_option(
    load_yaml, "YAML file of these options (keys as the option names); options given on the command line win."
)
@click.option("--dataset", help="Training dataset (see `audiometric datasets --list`), e.g. us8k, esc50.")
@click.option(
    "--data-dir", type=click.Path(), help="The dataset's folder (official layout); for --dataset csv, the CSV file."
)
@click.option("--file-pattern", help=FILE_PATTERN_HELP)
@click.option("--audio-dir", type=click.Path(), help=AUDIO_DIR_HELP)
@click.option("--model", help="AudioLDM pipeline folder or hub id, e.g. cvssp/audioldm-s-full-v2.")
@click.option(
    "--condition",
    type=click.Choice(["text", "audio"]),
    default=DEFAULTS["condition"],
    show_default=True,
    help="CLAP text embedding of the prompt, or CLAP audio embedding of the clip.",
)
@click.option("--clap", help="CLAP folder or hub id with an audio tower (for --condition audio).")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (checkpoints, logs, final/).")
@click.option("--from-scratch", is_flag=True, default=None, help="Re-initialise the U-Net from its config (seeded).")
@click.option("--max-steps", type=int, default=DEFAULTS["max_steps"], show_default=True, help="Optimizer steps in all.")
@click.option(
    "--batch-size",
    type=int,
    default=DEFAULTS["batch_size"],
    show_default=True,
    help="Clips per process per micro-batch.",
)
@click.option(
    "--grad-accum",
    type=int,
    default=DEFAULTS["grad_accum"],
    show_default=True,
    help="Micro-batches per optimizer step.",
)
@click.option("--lr", type=float, default=DEFAULTS["lr"], show_default=True, help="AdamW learning rate after warm-up.")
@click.option(
    "--warmup-steps", type=int, default=DEFAULTS["warmup_steps"], show_default=True, help="Linear LR warm-up steps."
)
@click.option(
    "--max-grad-norm",
    type=float,
    default=DEFAULTS["max_grad_norm"],
    show_default=True,
    help="Gradient-norm clip (0: none).",
)
@click.option("--ema", type=float, default=DEFAULTS["ema"], show_default=True, help="EMA decay of the U-Net weights.")
@click.option(
    "--cfg-dropout",
    type=float,
    default=DEFAULTS["cfg_dropout"],
    show_default=True,
    help="Probability of the empty-prompt condition.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "bf16"]),
    default=DEFAULTS["precision"],
    show_default=True,
    help="Training precision (as generate's).",
)
@click.option(
    "--duration",
    type=float,
    default=DEFAULTS["duration"],
    show_default=True,
    help="Seconds per training clip (pad/crop).",
)
@click.option(
    "--weight-decay", type=float, default=DEFAULTS["weight_decay"], show_default=True, help="AdamW weight decay."
)
@click.option("--train-split", default=DEFAULTS["train_split"], show_default=True, help="Split trained on.")
@click.option("--eval-split", default=DEFAULTS["eval_split"], show_default=True, help="Held-out split evaluated on.")
@click.option("--prompt-template", help='Prompt of label-only datasets, e.g. "the sound of {label}".')
@click.option("--skip-missing", is_flag=True, default=None, help="Leave out clips whose audio file is missing.")
@click.option(
    "--eval-every",
    type=int,
    default=DEFAULTS["eval_every"],
    show_default=True,
    help="Evaluate every N steps and at the end (0: never).",
)
@click.option("--eval-size", type=int, help="Held-out clips per evaluation.  [default: 870 us8k, 400 esc50]")
@click.option(
    "--eval-steps",
    type=int,
    default=DEFAULTS["eval_steps"],
    show_default=True,
    help="Sampling steps per evaluation clip.",
)
@click.option(
    "--eval-guidance",
    type=float,
    default=DEFAULTS["eval_guidance"],
    show_default=True,
    help="Guidance scale at evaluation.",
)
@click.option(
    "--eval-candidates",
    type=int,
    default=DEFAULTS["eval_candidates"],
    show_default=True,
    help="Samples per evaluation prompt; the best by CLAP is kept (needs --clap).",
)
@click.option(
    "--eval-metrics",
    callback=_metrics,
    default=",".join(DEFAULTS["eval_metrics"]),
    show_default=True,
    help="Metrics scored at evaluation.",
)
@click.option(
    "--eval-backbone", default=DEFAULTS["eval_backbone"], show_default=True, help="Backbone of FD/IS/KL at evaluation."
)
@click.option(
    "--eval-fad-backbone",
    default=DEFAULTS["eval_fad_backbone"],
    show_default=True,
    help="Backbone of FAD at evaluation.",
)
@click.option(
    "--checkpoint",
    multiple=True,
    callback=_checkpoints,
    metavar="NAME=PATH",
    help="Local weights of an evaluation backbone, as `score --checkpoint` (repeatable).",
)
@click.option(
    "--eval-batch-size",
    type=int,
    default=DEFAULTS["eval_batch_size"],
    show_default=True,
    help="Clips generated at once at evaluation.",
)
@click.option(
    "--encode-batch-size",
    type=int,
    default=DEFAULTS["encode_batch_size"],
    show_default=True,
    help="Clips per VAE/CLAP batch when filling the cache.",
)
@click.option(
    "--checkpoint-every",
    type=int,
    default=DEFAULTS["checkpoint_every"],
    show_default=True,
    help="Save a checkpoint every N steps.",
)
@click.option(
    "--keep-checkpoints",
    type=int,
    default=DEFAULTS["keep_checkpoints"],
    show_default=True,
    help="Newest checkpoints kept.",
)
@click.option("--resume", help="Continue from `latest` or a checkpoint folder.")
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    default=None,
    help="Resume even if the run was made with other settings, or write into a folder of another run.",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULTS["seed"],
    show_default=True,
    help="Seed of the data order, noise, crops and --from-scratch.",
)
@click.option("--world-size", type=int, help="Processes this launch must have (refuse any other count).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def finetune(no_progress, **options):
    """Fine-tune (or train from scratch) AudioLDM's U-Net on a dataset; run it under `accelerate launch` for
    several GPUs. VAE, CLAP and vocoder stay frozen; RUN/final is a pipeline `generate --model` reads."""
    from audiometric.ldm.train import TrainingInterrupted, train

    settings = {k: v for k, v in options.items() if v is not None and v != ()}
    missing = [f"--{k.replace('_', '-')}" for k in _REQUIRED if k not in settings]
    if missing:
        raise AudiometricError(f"missing {', '.join(missing)} (on the command line or in --config)")
    settings["progress"] = not no_progress
    try:
        summary = train(TrainConfig(**settings))
    except TrainingInterrupted as err:  # every rank stops; rank 0 says where the checkpoint is
        if world()[0] == 0:
            click.echo(str(err), err=True)
        sys.exit(130)
    if summary.get("final"):
        click.echo(json.dumps(summary, indent=2))
