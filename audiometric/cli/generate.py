"""``audiometric generate``: sample AudioLDM for a dataset's clips or a prompt file (thin over ldm.generate)."""

from __future__ import annotations

import click

from audiometric.cli.datasets import dataset_options, load_items
from audiometric.cli.options import overwrite_option
from audiometric.errors import AudiometricError

EXAMPLES = """\b
Examples:
  audiometric generate --model cvssp/audioldm-s-full-v2 --dataset esc50 --data-dir ESC-50-master --eval-size 400 --out gen/esc50-text
  audiometric generate --model cvssp/audioldm-s-full-v2 --dataset us8k --data-dir UrbanSound8K --condition audio --clap laion/clap-htsat-unfused --out gen/us8k-audio
  audiometric generate --model runs/esc50/final --prompts prompts.txt --out gen/prompts --steps 100 --precision fp16"""


@click.command("generate", epilog=EXAMPLES)
@click.option("--model", required=True, help="AudioLDM diffusers folder or hub id (e.g. cvssp/audioldm-s-full-v2).")
@dataset_options(required=False)
@click.option(
    "--prompts",
    type=click.Path(dir_okay=False),
    default=None,
    help="Instead of a dataset: one prompt per line, or a CSV with name and prompt columns.",
)
@click.option(
    "--condition",
    type=click.Choice(["text", "audio"]),
    default="text",
    show_default=True,
    help="CLAP text of the prompt, or CLAP audio of the reference clip.",
)
@click.option("--clap", default=None, help="CLAP with an audio tower (audio conditioning, --candidates > 1).")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for {clip_id}.wav + manifest.json."
)
@click.option("--steps", default=200, show_default=True, type=click.IntRange(1), help="DDIM steps.")
@click.option("--guidance", default=2.5, show_default=True, type=float, help="Classifier-free guidance scale.")
@click.option("--duration", default=10.24, show_default=True, type=click.FloatRange(0, min_open=True), help="Seconds.")
@click.option(
    "--candidates",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Samples per clip; the best by CLAP similarity is kept.",
)
@click.option(
    "--seed", default=0, show_default=True, help="Base seed; each clip's seed is derived from it and its name."
)
@click.option(
    "--batch-size",
    default=8,
    show_default=True,
    type=click.IntRange(1),
    help="Clips sampled together (the same seed gives the same audio at any batch size).",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "bf16"]),
    default="fp32",
    show_default=True,
    help="Weights and activations (fp16/bf16 on a GPU halve memory).",
)
@click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (auto: cuda when present)."
)
@click.option("--original-attention", is_flag=True, help="Run the U-Net with AudioLDM's original 32 channels per head.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@overwrite_option
def generate(
    model,
    prompts,
    condition,
    clap,
    out,
    steps,
    guidance,
    duration,
    candidates,
    seed,
    batch_size,
    precision,
    device,
    original_attention,
    no_progress,
    overwrite,
    **dataset,
):
    """Generate one WAV per reference clip (named after it, so `score OUT REF` pairs them) or per prompt."""
    from audiometric.ldm.generate import GenerateSettings, jobs_from_items, jobs_from_prompts
    from audiometric.ldm.generate import generate as run

    if prompts and dataset["dataset"]:
        raise AudiometricError("pass either --prompts or --dataset/--data-dir, not both")
    if prompts:
        jobs, provenance = jobs_from_prompts(prompts), {"prompts_file": str(prompts)}
    elif dataset["dataset"] and dataset["data_dir"]:
        items, provenance = load_items(**dataset)
        jobs = jobs_from_items(items)
    else:
        raise AudiometricError("pass --dataset and --data-dir (or --prompts FILE)")
    settings = GenerateSettings(
        model=model,
        condition=condition,
        steps=steps,
        guidance=guidance,
        duration=duration,
        candidates=candidates,
        seed=seed,
        precision=precision,
        original_attention=original_attention,
        clap=clap,
    )
    manifest = run(jobs, settings, out, batch_size, device, provenance, progress=not no_progress, overwrite=overwrite)
    layout = manifest["attention"]
    click.echo(f"generated {len(manifest['clips'])} clips in {out} (attention heads per block {layout['heads']})")
    if not layout["matches_original"]:
        click.echo(
            f"warning: {model}: the U-Net ran with {layout['heads']} attention heads per block (diffusers' "
            f"conversion), the original AudioLDM with {layout['original_heads']} (32 channels per head); the "
            "same weights then give other audio: pass --original-attention to sample as the original did "
            "(recorded in manifest.json under attention)",
            err=True,
        )
