"""``audiometric finetune``: parse options (and an optional YAML config) and call the training loop."""

from __future__ import annotations

import json
import sys

import click

from audiometric.errors import AudiometricError
from audiometric.runtime.distributed import world

_REQUIRED = ("dataset", "data_dir", "model", "out")


def _metrics(ctx, param, value):
    return None if value is None else tuple(m.strip() for m in value.split(",") if m.strip())


@click.command(
    "finetune",
    epilog="""\b
Examples:
  audiometric finetune --dataset us8k --data-dir UrbanSound8K --model cvssp/audioldm-s-full-v2 --condition text --out runs/us8k-text
  audiometric finetune --config experiments/fig2_esc50.yaml --data-dir ESC-50-master --out runs/esc50 --resume latest
  accelerate launch --multi_gpu --num_processes 8 -m audiometric finetune --dataset esc50 --data-dir ESC-50-master --model cvssp/audioldm-s-full-v2 --out runs/esc50-8gpu --world-size 8""",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML file of these options (keys as the option names); options given on the command line win.",
)
@click.option("--dataset", help="Training dataset (see `audiometric datasets --list`), e.g. us8k, esc50.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="The dataset's folder (official layout).")
@click.option("--model", help="AudioLDM pipeline folder or hub id, e.g. cvssp/audioldm-s-full-v2.")
@click.option(
    "--condition",
    type=click.Choice(["text", "audio"]),
    help="CLAP text embedding of the prompt, or CLAP audio embedding of the clip.  [default: text]",
)
@click.option("--clap", help="CLAP folder or hub id with an audio tower (for --condition audio).")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (checkpoints, logs, final/).")
@click.option("--from-scratch", is_flag=True, default=None, help="Re-initialise the U-Net from its config (seeded).")
@click.option("--max-steps", type=int, help="Optimizer steps in all.  [default: 50000]")
@click.option("--batch-size", type=int, help="Clips per process per micro-batch.  [default: 2]")
@click.option("--grad-accum", type=int, help="Micro-batches per optimizer step.  [default: 1]")
@click.option("--lr", type=float, help="AdamW learning rate after warm-up.  [default: 3e-5]")
@click.option("--warmup-steps", type=int, help="Linear LR warm-up steps.  [default: 2000]")
@click.option("--max-grad-norm", type=float, help="Gradient-norm clip (0: none).  [default: 1.0]")
@click.option("--ema", type=float, help="EMA decay of the U-Net weights.  [default: 0.9999]")
@click.option("--cfg-dropout", type=float, help="Probability of the empty-prompt condition.  [default: 0.1]")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "bf16"]),
    help="Training precision (as generate's).  [default: fp32]",
)
@click.option("--duration", type=float, help="Seconds per training clip (pad/crop).  [default: 10.24]")
@click.option("--weight-decay", type=float, help="AdamW weight decay.  [default: 0.01]")
@click.option("--train-split", help="Split trained on.  [default: train]")
@click.option("--eval-split", help="Held-out split evaluated on.  [default: test]")
@click.option("--prompt-template", help='Prompt of label-only datasets, e.g. "the sound of {label}".')
@click.option("--skip-missing", is_flag=True, default=None, help="Leave out clips whose audio file is missing.")
@click.option("--eval-every", type=int, help="Evaluate every N steps and at the end (0: never).  [default: 5000]")
@click.option("--eval-size", type=int, help="Held-out clips per evaluation.  [default: 870 us8k, 400 esc50]")
@click.option("--eval-steps", type=int, help="Sampling steps per evaluation clip.  [default: 200]")
@click.option("--eval-guidance", type=float, help="Guidance scale at evaluation.  [default: 3.5]")
@click.option(
    "--eval-candidates",
    type=int,
    help="Samples per evaluation prompt; the best by CLAP is kept (needs --clap).  [default: 1]",
)
@click.option("--eval-metrics", callback=_metrics, help="Metrics scored at evaluation.  [default: fd,is,kl,fad]")
@click.option("--eval-backbone", help="Backbone of FD/IS/KL at evaluation.  [default: panns-cnn14-16k]")
@click.option("--eval-fad-backbone", help="Backbone of FAD at evaluation.  [default: vggish]")
@click.option("--eval-batch-size", type=int, help="Clips generated at once at evaluation.  [default: 8]")
@click.option("--encode-batch-size", type=int, help="Clips per VAE/CLAP batch when filling the cache.  [default: 8]")
@click.option("--checkpoint-every", type=int, help="Save a checkpoint every N steps.  [default: 5000]")
@click.option("--keep-checkpoints", type=int, help="Newest checkpoints kept.  [default: 3]")
@click.option("--resume", help="Continue from `latest` or a checkpoint folder.")
@click.option("--force", is_flag=True, default=None, help="Resume even if the run was made with other settings.")
@click.option("--seed", type=int, help="Seed of the data order, noise, crops and --from-scratch.  [default: 0]")
@click.option("--world-size", type=int, help="Processes this launch must have (refuse any other count).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def finetune(config_path, no_progress, **options):
    """Fine-tune (or train from scratch) AudioLDM's U-Net on a dataset; run it under `accelerate launch` for
    several GPUs. VAE, CLAP and vocoder stay frozen; RUN/final is a pipeline `generate --model` reads."""
    from audiometric.ldm.train import TrainConfig, TrainingInterrupted, train
    from audiometric.ldm.train.config import load_yaml

    settings = load_yaml(config_path) if config_path else {}
    settings.update({k: v for k, v in options.items() if v is not None})
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
