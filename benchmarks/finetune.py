"""Fine-tuning speed, measured side by side in one run on the same batch shape and the same U-Net.

Rows:
1. the runner (``audiometric.ldm.train.train``; its per-step clips/s from ``RUN/train.csv``, first step left out
   as warm-up; best step of each side, medians printed too) against a bare loop: the same U-Net forward + backward + AdamW on precomputed latents;
   target >= 95 %. The runner's step also draws its seeded noise, clips the gradient norm, reduces the loss
   over ranks and updates the EMA.
2. cached latents/CLAP embeddings (the runner's way) against encoding every step: log-mel, VAE encoder and
   CLAP text tower on each batch before the same U-Net step; the speed-up of caching.
3. on CUDA: peak GPU memory of the runner's step.

``--size audioldm-s`` (default) uses AudioLDM-S's real sizes with random weights (U-Net 185 M parameters,
``benchmarks/generate.py``'s configs); ``--size tiny`` is a smoke test whose ratios mean little.
Usage: ``python benchmarks/finetune.py [--size audioldm-s|tiny] [--steps 3] [--batch-size 2]
[--duration 10.24] [--precision fp32|fp16|bf16] [--json OUT]``. Speed targets live here, never in unit tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from audiometric.ldm import mel  # noqa: E402
from audiometric.ldm.clap import text_embeddings  # noqa: E402
from audiometric.ldm.components import load_components, save_pipeline  # noqa: E402
from audiometric.ldm.tiny import write_tiny_pipeline  # noqa: E402
from audiometric.ldm.train import TrainConfig, train  # noqa: E402

TARGET_RUNNER = 0.95


def make_pipeline(size: str, folder: Path) -> Path:
    if size == "tiny":
        return write_tiny_pipeline(folder)
    from generate import audioldm_s  # benchmarks/generate.py: AudioLDM-S configs, random weights

    return save_pipeline(audioldm_s(tokenizer_dir=folder / "tok"), folder / "pipe")


def make_dataset(folder: Path, clips: int, duration: float) -> Path:
    """A generic CSV dataset of ``clips`` noisy tones at 16 kHz."""
    rng = np.random.default_rng(0)
    t = np.arange(int(duration * 16000)) / 16000
    rows = []
    for i in range(clips):
        wave = 0.4 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i}.wav", wave.astype(np.float32), 16000, subtype="PCM_16")
        rows.append([f"clip{i}.wav", f"a tone number {i}"])
    with open(folder / "data.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["path", "caption"], *rows])
    return folder / "data.csv"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_steps(
    model: Path, batch: int, duration: float, steps: int, device: torch.device, precision: str, encode: bool
) -> list[float]:
    """Seconds per step of forward + backward + AdamW, on precomputed latents or encoding each batch first."""
    components = load_components(model, device=device)
    unet = components.unet.float().train().requires_grad_(True)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=3e-5)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    shape_frames = mel.frames(duration) // components.vae_scale
    latents = torch.randn(
        batch, int(unet.config.in_channels), shape_frames, components.n_mels // components.vae_scale, device=device
    )
    cond = torch.nn.functional.normalize(
        torch.randn(batch, unet.config.projection_class_embeddings_input_dim, device=device), dim=-1
    )
    waves = torch.randn(batch, int(duration * mel.SAMPLE_RATE), device=device) * 0.1
    prompts = [f"a tone number {i}" for i in range(batch)]
    times = []
    for _ in range(steps + 1):
        _sync(device)
        start = time.perf_counter()
        if encode:
            with torch.no_grad():
                logmel = mel.log_mel(waves, duration, components.n_mels)[:, None]
                z0 = components.vae.encode(logmel).latent_dist.sample() * components.vae.config.scaling_factor
                labels = text_embeddings(components, prompts).clone()
        else:
            z0, labels = latents, cond
        noise = torch.randn_like(z0)
        t = torch.randint(0, 1000, (batch,), device=device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            pred = unet(z0 + noise, t, encoder_hidden_states=None, class_labels=labels).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - start)
    return times[1:]


def runner_steps(
    model: Path, data: Path, out: Path, batch: int, duration: float, steps: int, precision: str
) -> tuple[list[float], float | None]:
    """Seconds per step of the runner (train.csv's clips/s), and its peak CUDA memory (GiB)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    train(
        TrainConfig(
            dataset="csv",
            data_dir=str(data),
            model=str(model),
            out=str(out),
            duration=duration,
            batch_size=batch,
            max_steps=steps + 1,
            eval_every=0,
            checkpoint_every=10**9,
            precision=precision,
            progress=False,
        )
    )
    rows = list(csv.DictReader(open(out / "train.csv")))[1:]
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    return [batch / float(r["clips_per_s"]) for r in rows], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["audioldm-s", "tiny"], default="audioldm-s")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.24)
    parser.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32")
    parser.add_argument("--json")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.setdefault("AUDIOMETRIC_HOME", str(root / "home"))
        model = make_pipeline(args.size, root)
        data = make_dataset(root, args.batch_size, args.duration)
        run_t, peak = runner_steps(
            model, data, root / "run", args.batch_size, args.duration, args.steps, args.precision
        )
        bare_t = bare_steps(model, args.batch_size, args.duration, args.steps, device, args.precision, encode=False)
        enc_t = bare_steps(model, args.batch_size, args.duration, args.steps, device, args.precision, encode=True)
    # the best step of each: on a shared machine the minimum is the least disturbed measurement
    run_s, bare_s, enc_s = (min(t) for t in (run_t, bare_t, enc_t))
    ratio = bare_s / run_s
    result = {
        "size": args.size,
        "device": str(device),
        "precision": args.precision,
        "batch_size": args.batch_size,
        "duration_s": args.duration,
        "steps": args.steps,
        "load_average": os.getloadavg()[0],
        "runner_steps_s": run_t,
        "bare_steps_s": bare_t,
        "encode_steps_s": enc_t,
        "median_runner_vs_bare": statistics.median(bare_t) / statistics.median(run_t),
        "runner_s_per_step": run_s,
        "bare_s_per_step": bare_s,
        "encode_every_step_s_per_step": enc_s,
        "runner_clips_per_s": args.batch_size / run_s,
        "bare_clips_per_s": args.batch_size / bare_s,
        "runner_vs_bare": ratio,
        "cache_speedup": enc_s / bare_s,
        "peak_cuda_gib": peak,
    }
    print(
        f"{args.size} on {device}, batch {args.batch_size}, {args.duration} s clips, precision {args.precision}, "
        f"load average {result['load_average']:.1f} (shared machines read pessimistic)"
    )
    print(f"  runner  {args.batch_size / run_s:8.3f} clips/s   ({run_s:.3f} s/step)")
    print(f"  bare    {args.batch_size / bare_s:8.3f} clips/s   ({bare_s:.3f} s/step)")
    print(
        f"  runner / bare = {ratio:.3f} (best steps; medians {result['median_runner_vs_bare']:.3f})  "
        f"target >= {TARGET_RUNNER}  {'PASS' if ratio >= TARGET_RUNNER else 'FAIL'}"
    )
    print(f"  encoding every step {enc_s:.3f} s/step: caching is {enc_s / bare_s:.2f}x faster per step")
    if peak is not None:
        print(f"  peak CUDA memory of the runner: {peak:.2f} GiB")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if ratio >= TARGET_RUNNER else 1)


if __name__ == "__main__":
    main()
