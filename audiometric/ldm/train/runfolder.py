"""The run folder: its recorded settings (checked on ``--resume``), the world-size check, the final pipeline.

Layout: ``settings.json`` (what the run trains with), ``checkpoint-{step}/`` + ``latest``, ``train.csv``,
``eval.csv``, ``curves.png``, ``eval/``, ``tensorboard/`` and, at the end, ``final/`` (a diffusers
pipeline folder with the EMA weights).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from audiometric.errors import AudiometricError
from audiometric.ldm.train import checkpoint
from audiometric.ldm.train.config import TrainConfig, differences
from audiometric.runtime.atomic import atomic_write_text
from audiometric.runtime.outputs import check_folder, run_folder


def check_world_size(expected: int | None, actual: int) -> None:
    """Refuse a launch whose process count differs from ``--world-size`` (e.g. ``accelerate launch --cpu
    --num_processes 2``, which silently starts one process) or from the launcher's ``WORLD_SIZE`` (processes
    that did not form one group would each train alone)."""
    hint = (
        "on CPU use `accelerate launch --multi_gpu --num_processes N --num_machines 1 --mixed_precision no "
        "--dynamo_backend no` or `torchrun --standalone --nproc_per_node N`"
    )
    if expected is not None and expected != actual:
        raise AudiometricError(f"--world-size {expected} was asked but this launch runs {actual} process(es); {hint}")
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != actual:
        raise AudiometricError(
            f"the launcher started {launched} processes but they did not join one group "
            f"(this one sees {actual}); {hint}"
        )


def inputs(cfg: TrainConfig) -> tuple[str | None, ...]:
    """What the run reads from disk: the dataset, its audio folder, and the model and CLAP when local."""
    local = [p for p in (cfg.model, cfg.clap) if p and Path(p).expanduser().exists()]  # not hub ids
    return (cfg.data_dir, cfg.audio_dir, *local)


def check_out(cfg: TrainConfig) -> None:
    """The output policy's location checks on ``--out`` (writable, not a file, not inside an input, holding
    none) before anything is read or written; resuming and refusing are :func:`prepare`'s."""
    check_folder(cfg.out, flag="--out", inputs=inputs(cfg))


def recorded(cfg: TrainConfig, world_size: int) -> dict:
    """What ``settings.json`` holds: the training settings and the world size (it changes the data order)."""
    return {**cfg.training_settings(), "world_size": world_size}


def prepare(cfg: TrainConfig, world_size: int, barrier: Callable[[], None], is_main: bool) -> Path | None:
    """Check the run folder against this launch (the output policy, then the checkpoint to resume); return
    the checkpoint to resume from (or None). ``--force`` (alias ``--overwrite``) continues a run with other
    settings, or takes over a folder the policy would refuse. Every rank checks before rank 0 writes the
    stamp (``barrier`` between), so no rank sees a half-claimed folder."""
    run = cfg.run
    current = recorded(cfg, world_size)
    if cfg.resume is None:
        resume_from = None
    else:
        resume_from = checkpoint.resolve(run, cfg.resume)
        saved = json.loads((resume_from / "training_state.json").read_text())["settings"]
        changed = differences(saved, current)
        if changed and not cfg.force:
            raise AudiometricError(
                f"--resume {cfg.resume}: the run was made with other settings "
                f"({'; '.join(changed)}); pass the same options, or --force to continue anyway"
            )
    folder = run_folder(run, command="finetune", settings=current, inputs=inputs(cfg), overwrite=cfg.force)
    if cfg.resume is None and (checkpoint.checkpoints(run) or checkpoint.latest(run)):
        raise AudiometricError(
            f"{run} already holds checkpoints; continue it with --resume latest, or choose another --out"
        )
    barrier()
    if is_main:
        folder.claim()
        atomic_write_text(run / "settings.json", json.dumps(current, indent=2, sort_keys=True) + "\n")
    return resume_from


def with_unet(components, unet: torch.nn.Module):
    """A shallow copy of ``components`` whose U-Net is ``unet``."""
    if dataclasses.is_dataclass(components) and not isinstance(components, type):
        return dataclasses.replace(components, unet=unet)
    out = copy.copy(components)
    out.unet = unet
    return out


def write_final(cfg: TrainConfig, components, unet: torch.nn.Module, ema, step: int) -> Path:
    """``RUN/final``: the whole pipeline with the EMA weights, written beside and renamed into place."""
    from audiometric.ldm.components import quiet_loading, save_pipeline

    averaged = copy.deepcopy(unet).float()
    ema.copy_to(averaged)
    final, tmp = cfg.run / "final", cfg.run / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_loading():  # no per-shard "Writing model shards" bars
        save_pipeline(with_unet(components, averaged.eval()), tmp)
    atomic_write_text(
        tmp / "finetune.json",
        json.dumps(
            {
                "step": step,
                "ema_decay": ema.decay,
                "ema_updates": ema.num_updates,
                "source_model": cfg.model,
                "dataset": cfg.dataset,
                "condition": cfg.condition,
                "from_scratch": cfg.from_scratch,
            },
            indent=2,
        )
        + "\n",
    )
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final
