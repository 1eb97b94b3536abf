"""Generation benchmarks: our sampling loop vs diffusers' AudioLDMPipeline, and AudioLDM-S cost per clip.

Rows, measured side by side in one run:

1. Loop vs pipeline on the same tiny random pipeline folder (audiometric.ldm.tiny), same seeds and steps,
   batch 1 and 8: clips/s of each, the ratio ours/pipeline (target >= 1.0 at batch 1) and the per-clip
   speed-up from batching (target > 1).
2. AudioLDM-S at its real size (cvssp/audioldm-s-full-v2 configs, random weights: speed does not depend on
   weight values): seconds of the CLAP text encoding, one U-Net step (CFG, 2B rows), VAE decode and vocoder
   per batch, and the cost per 10.24 s clip at 200 steps assembled from them.
3. Attention heads (``--rows 3``): the same AudioLDM-S U-Net weights run with diffusers' 8 heads per block
   and with the original 32 channels per head; relative L2 difference of the noise prediction at a few
   timesteps and of the latents after a short DDIM run.

Usage: ``python benchmarks/generate.py [--quick] [--rows 1,2,3] [--device cpu|cuda] [--threads N]
[--repeats N] [--json OUT]``. ``--quick`` runs row 1 only, small; rows 2 and 3 take minutes on 2 CPU cores.
Run on an idle machine; timings on a shared one are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric.ldm import attention, clap
from audiometric.ldm.components import Components, load_components
from audiometric.ldm.sample import latent_shape, sample
from audiometric.ldm.tiny import AUDIOLDM_SCHEDULER, write_tiny_pipeline, write_tiny_tokenizer

TARGET_RATIO = 1.0  # ours / pipeline clips/s at batch 1
# cvssp/audioldm-s-full-v2 unet/config.json and vae/config.json (diffusers conversion), AudioLDM's HiFi-GAN
# (16 kHz, 64 mels, hop 160) and the RoBERTa-base text tower of its CLAP (projection 512).
UNET_S = dict(
    sample_size=128,
    in_channels=8,
    out_channels=8,
    block_out_channels=(128, 256, 384, 640),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=8,
    cross_attention_dim=(128, 256, 384, 640),
    class_embed_type="simple_projection",
    projection_class_embeddings_input_dim=512,
    class_embeddings_concat=True,
    norm_num_groups=32,
)
VAE_S = dict(
    in_channels=1,
    out_channels=1,
    latent_channels=8,
    block_out_channels=(128, 256, 512),
    layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.9392935633659363,
)
VOCODER_S = dict(
    model_in_dim=64,
    sampling_rate=16000,
    upsample_initial_channel=1024,
    upsample_rates=[5, 4, 2, 2, 2],
    upsample_kernel_sizes=[16, 16, 8, 4, 4],
    resblock_kernel_sizes=[3, 7, 11],
    resblock_dilation_sizes=[[1, 3, 5]] * 3,
    normalize_before=False,
)
TEXT_S = dict(
    vocab_size=50265,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=514,
    type_vocab_size=1,
    pad_token_id=1,
    projection_dim=512,
)


def audioldm_s(seed: int = 0, original_attention: bool = False, tokenizer_dir: Path | None = None) -> Components:
    """AudioLDM-S components at their real sizes with random weights (in memory)."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import (
        ClapTextConfig,
        ClapTextModelWithProjection,
        RobertaTokenizer,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
    )

    torch.manual_seed(seed)
    unet_config = dict(UNET_S)
    if original_attention:
        unet_config["attention_head_dim"] = attention.original_heads(unet_config)
    folder = tokenizer_dir or Path(tempfile.mkdtemp())
    tokenizer = RobertaTokenizer.from_pretrained(str(write_tiny_tokenizer(folder, max_length=512)))
    scheduler = DDIMScheduler(**AUDIOLDM_SCHEDULER)
    return Components(
        unet=UNet2DConditionModel(**unet_config).eval(),
        vae=AutoencoderKL(**VAE_S).eval(),
        text_encoder=ClapTextModelWithProjection(ClapTextConfig(**TEXT_S)).eval(),
        tokenizer=tokenizer,
        vocoder=SpeechT5HifiGan(SpeechT5HifiGanConfig(**VOCODER_S)).eval(),
        scheduler=scheduler,
        noise_scheduler_config=dict(scheduler.config),
        source="audioldm-s (random)",
        digest="",
    )


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def loop_vs_pipeline(device: torch.device, steps: int, duration: float, repeats: int) -> list[dict]:
    from diffusers import AudioLDMPipeline

    folder = write_tiny_pipeline(Path(tempfile.mkdtemp()) / "tiny")
    components = load_components(folder, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = AudioLDMPipeline.from_pretrained(str(folder)).to(device)
    pipe.set_progress_bar_config(disable=True)
    rows = []
    for batch in (1, 8):
        prompts, seeds = [f"prompt {i}" for i in range(batch)], list(range(batch))

        def ours():
            cond = clap.text_embeddings(components, prompts)
            sample(components, cond, clap.empty_embedding(components), seeds, steps, 2.5, duration)

        def theirs():
            pipe(
                prompts,
                num_inference_steps=steps,
                audio_length_in_s=duration,
                guidance_scale=2.5,
                generator=[torch.Generator().manual_seed(s) for s in seeds],
            )

        ours(), theirs()  # warm-up
        t_ours, t_pipe = np.inf, np.inf
        for _ in range(repeats):  # interleaved, so load changes hit both alike
            t_ours, t_pipe = min(t_ours, _best(ours, 1)), min(t_pipe, _best(theirs, 1))
        rows.append(
            {
                "batch": batch,
                "ours_clips_per_s": batch / t_ours,
                "pipeline_clips_per_s": batch / t_pipe,
                "ratio": t_pipe / t_ours,
            }
        )
    rows[1]["batching_speedup"] = rows[1]["ours_clips_per_s"] / rows[0]["ours_clips_per_s"]
    return rows


@torch.inference_mode()
def real_size_cost(device: torch.device, batches: tuple[int, ...], steps: int = 200, duration: float = 10.24) -> list:
    components = audioldm_s().to(device)
    rows = []
    for batch in batches:
        prompts = [f"a sound number {i}" for i in range(batch)]
        text = _best(lambda: clap.text_embeddings(components, prompts), 1)
        cond = clap.text_embeddings(components, prompts)
        labels = torch.cat([clap.empty_embedding(components).expand(batch, -1), cond])
        latents = torch.randn(2 * batch, *latent_shape(components, duration), device=device)
        t = torch.tensor(500, device=device)
        components.unet(latents, t, encoder_hidden_states=None, class_labels=labels)  # warm-up
        step = _best(lambda: components.unet(latents, t, encoder_hidden_states=None, class_labels=labels), 2)
        vae = _best(lambda: components.vae.decode(latents[:batch]).sample, 1)
        mel = components.vae.decode(latents[:batch]).sample.squeeze(1)
        voc = _best(lambda: components.vocoder(mel), 1)
        total = text + steps * step + vae + voc
        rows.append(
            {
                "batch": batch,
                "text_s": text,
                "unet_step_s": step,
                "vae_s": vae,
                "vocoder_s": voc,
                "seconds_per_clip": total / batch,
                "steps": steps,
            }
        )
    return rows


@torch.inference_mode()
def attention_difference(device: torch.device, ddim_steps: int = 10) -> dict:
    """Relative L2 difference between diffusers' and the original head layout on identical weights."""
    from diffusers import DDIMScheduler, UNet2DConditionModel

    torch.manual_seed(0)
    default = UNet2DConditionModel(**UNET_S).eval().to(device)
    original = UNet2DConditionModel.from_config(attention.original_attention_config(default.config)).eval().to(device)
    original.load_state_dict(default.state_dict())
    gen = torch.Generator().manual_seed(1)
    latents = torch.randn(2, 8, 256, 16, generator=gen).to(device)
    labels = torch.nn.functional.normalize(torch.randn(2, 512, generator=gen), dim=-1).to(device)
    rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    per_t = {}
    for t in (999, 500, 10):
        a = default(latents, t, encoder_hidden_states=None, class_labels=labels).sample
        b = original(latents, t, encoder_hidden_states=None, class_labels=labels).sample
        per_t[t] = rel(a, b)
    finals = []
    for unet in (default, original):
        scheduler = DDIMScheduler(**AUDIOLDM_SCHEDULER)
        scheduler.set_timesteps(ddim_steps)
        x = latents.clone()
        for t in scheduler.timesteps:
            x = scheduler.step(unet(x, t, encoder_hidden_states=None, class_labels=labels).sample, t, x).prev_sample
        finals.append(x)
    return {
        "layout_default": attention.layout(default.config),
        "layout_original": attention.layout(original.config),
        "noise_prediction_rel_l2": per_t,
        f"latents_after_{ddim_steps}_ddim_steps_rel_l2": rel(*finals),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="row 1 only, few steps")
    parser.add_argument("--rows", default="1,2", help="rows to run, e.g. 1,2,3 (3: attention heads)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (the best is kept)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (timings on a shared machine are pessimistic)"
    )
    rows = {"1"} if args.quick else set(args.rows.split(","))
    result = {}
    if "3" in rows:
        result["attention"] = attention_difference(device)
        print(
            "3. attention heads (same AudioLDM-S weights): diffusers",
            result["attention"]["layout_default"]["heads"],
            "vs original",
            result["attention"]["layout_original"]["heads"],
        )
        for key, value in result["attention"].items():
            if key.startswith(("noise", "latents")):
                print(f"   {key}: {value}")
    if "1" in rows:
        result["loop_vs_pipeline"] = loop_vs_pipeline(
            device,
            steps=5 if args.quick else 10,
            duration=1.28 if args.quick else 2.56,
            repeats=2 if args.quick else args.repeats,
        )
        print("1. loop vs AudioLDMPipeline (tiny random pipeline, same seeds/steps)")
    for row in result.get("loop_vs_pipeline", []):
        verdict = "" if row["batch"] != 1 else (" PASS" if row["ratio"] >= TARGET_RATIO else " FAIL")
        extra = f", batching speed-up per clip {row['batching_speedup']:.2f}x" if "batching_speedup" in row else ""
        print(
            f"   batch {row['batch']}: ours {row['ours_clips_per_s']:.2f} clips/s, pipeline "
            f"{row['pipeline_clips_per_s']:.2f} clips/s, ratio {row['ratio']:.3f} (target >= {TARGET_RATIO})"
            f"{verdict}{extra}"
        )
    if "2" in rows:
        result["audioldm_s"] = real_size_cost(device, (1, 8) if device.type == "cuda" else (1, 4))
        print("2. AudioLDM-S real size, random weights, 10.24 s clips, 200 DDIM steps with CFG")
        for row in result["audioldm_s"]:
            print(
                f"   batch {row['batch']}: text {row['text_s']:.2f} s, U-Net step {row['unet_step_s']:.3f} s, VAE "
                f"{row['vae_s']:.2f} s, vocoder {row['vocoder_s']:.2f} s -> {row['seconds_per_clip']:.1f} s per clip"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
