"""The fine-tuning loop: AudioLDM's U-Net trained on cached latents under ``accelerate`` (1 process or DDP).

Only the U-Net trains; the VAE, the CLAP towers and the vocoder are frozen (checked once at start). Each
optimizer step runs ``grad_accum`` micro-batches per rank (gradients synchronised on the last one only),
clips the global gradient norm, steps AdamW and the warm-up schedule, and updates the EMA. Everything
random is drawn from ``(seed, micro-step, rank)`` (see :mod:`.data`), so a resumed run repeats an
uninterrupted one exactly.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import math
import signal
import time
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from audiometric.errors import AudiometricError
from audiometric.ldm.ema import EMA
from audiometric.ldm.train import checkpoint
from audiometric.ldm.train.config import TrainConfig
from audiometric.ldm.train.data import check_size, draws, indices
from audiometric.ldm.train.evaluation import Evaluator, eval_extractor, eval_items
from audiometric.ldm.train.features import Features, encode, module_digest
from audiometric.ldm.train.logs import CsvLog, Events
from audiometric.ldm.train.runfolder import check_out, check_world_size, prepare, recorded, with_unet, write_final
from audiometric.ldm.train.step import diffusion_loss


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped the run after saving a checkpoint (the message says which)."""


class TrainState:
    """The data position (= optimizer steps done), checkpointed with the rest of the state."""

    def __init__(self) -> None:
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


class StopSignals(contextlib.AbstractContextManager):
    """SIGINT/SIGTERM set a flag checked between steps; a second Ctrl-C interrupts at once."""

    def __enter__(self):
        self.requested = False
        self.previous = {}
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def freeze(modules: dict[str, torch.nn.Module]) -> None:
    """Eval mode and no gradients for every frozen network, then check it held."""
    for module in modules.values():
        module.eval().requires_grad_(False)
    trainable = [name for name, m in modules.items() if m.training or any(p.requires_grad for p in m.parameters())]
    if trainable:
        raise RuntimeError(f"frozen networks still trainable: {', '.join(trainable)}")


def warmup_factor(warmup_steps: int):
    """LR multiplier at optimizer step s (from 0): linear warm-up over ``warmup_steps``, then constant."""
    return lambda s: min(1.0, (s + 1) / warmup_steps) if warmup_steps else 1.0


#: How long ranks wait for each other: the other ranks idle while rank 0 evaluates (NCCL's default is 10 min).
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=6)


def _accelerator(cfg: TrainConfig):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import InitProcessGroupKwargs

    # accelerate keeps one mixed-precision setting per process: a second run in the same process (the Table II
    # grid, tests) with another --precision would be refused; the process group itself is kept
    AcceleratorState._reset_state(reset_partial_state=False)
    try:
        # without cpu=True accelerate never forms a CPU process group: under `accelerate launch --multi_gpu` or
        # torchrun on a machine without CUDA every process would train alone (the --world-size check catches it)
        return Accelerator(
            mixed_precision="no" if cfg.precision == "fp32" else cfg.precision,  # accelerate's name for fp32
            cpu=not torch.cuda.is_available(),
            kwargs_handlers=[InitProcessGroupKwargs(timeout=COLLECTIVE_TIMEOUT)],
        )
    except ValueError as err:
        raise AudiometricError(
            f"--precision {cfg.precision}: {str(err).splitlines()[0]}; use --precision fp32 (or bf16) on this device"
        ) from err


def _load(cfg: TrainConfig, device: torch.device):
    """Pipeline components (U-Net re-initialised for --from-scratch) and, for audio conditioning, CLAP audio."""
    from audiometric.ldm.components import load_components

    components = load_components(cfg.model, device=device)
    clap_audio = None
    if cfg.condition == "audio" or cfg.eval_candidates > 1:
        from audiometric.ldm.clap import load_clap_audio

        if not cfg.clap:
            raise AudiometricError(
                "--condition audio (and --eval-candidates > 1) needs --clap, a CLAP folder or hub "
                "id with an audio tower, e.g. laion/clap-htsat-unfused"
            )
        clap_audio = load_clap_audio(cfg.clap, device=device)
        dim = components.unet.config.projection_class_embeddings_input_dim
        if cfg.condition == "audio" and clap_audio.model.config.projection_dim != dim:
            raise AudiometricError(
                f"--clap {cfg.clap}: projection dim {clap_audio.model.config.projection_dim} but "
                f"{cfg.model} is conditioned on {dim}; pass the CLAP the model was trained with"
            )
    if cfg.from_scratch:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            components = with_unet(components, type(components.unet).from_config(components.unet.config).to(device))
    frozen = {"vae": components.vae, "text_encoder": components.text_encoder, "vocoder": components.vocoder}
    if clap_audio is not None:
        frozen["clap_audio"] = clap_audio.model
    freeze(frozen)
    return components, clap_audio


def train(cfg: TrainConfig) -> dict:
    """Run (or continue) the fine-tuning ``cfg`` describes; returns a summary (rank 0's is complete).

    Everything that can fail before step 1 is checked before it, in the order it costs: the process count,
    the output folder, the training and evaluation clips, the evaluation's metrics and backbone weights
    (before anything is written), then the networks, the exported evaluation reference and the features.
    """
    try:
        import transformers  # noqa: F401
        from diffusers import DDPMScheduler
    except ImportError as err:
        raise AudiometricError(
            f"finetune needs the ldm extra ({err.name} is not installed): pip install 'audiometric[ldm]'"
        ) from None
    accelerator = _accelerator(cfg)
    world, main, device = accelerator.num_processes, accelerator.is_main_process, accelerator.device
    check_world_size(cfg.world_size, world)
    check_out(cfg)
    items, held_out = _clips(cfg, world)
    extractor = eval_extractor(cfg, device) if held_out is not None else None
    resume_from = prepare(cfg, world, accelerator.wait_for_everyone, main)
    accelerator.wait_for_everyone()
    components, clap_audio = _load(cfg, device)
    evaluator = None
    if held_out is not None:
        with accelerator.main_process_first():  # rank 0 exports the reference: an unreadable clip stops here
            evaluator = Evaluator(
                cfg=cfg,
                components=components,
                items=held_out,
                device=device,
                tower=clap_audio,
                is_main=main,
                extractor=extractor,
            )
    with accelerator.main_process_first():  # rank 0 fills the cache, the others read it
        feats = encode(items, components, cfg, device, clap_audio, cfg.progress and main)
    alphas = DDPMScheduler.from_config(components.noise_scheduler_config).alphas_cumprod
    trainer = _Trainer.start(cfg, accelerator, components, feats, alphas, resume_from)
    last_eval = trainer.run(evaluator)
    return trainer.finish(components, last_eval)


def _clips(cfg: TrainConfig, world: int) -> tuple[list, list | None]:
    """The training clips (enough for a batch on every rank) and the held-out ones (None: no evaluation)."""
    from audiometric.datasets import get as get_dataset

    items = get_dataset(cfg.dataset).items(
        cfg.data_dir,
        split=cfg.train_split,
        prompt_template=cfg.prompt_template,
        skip_missing=cfg.skip_missing,
        **cfg.dataset_options(),
    )
    check_size(len(items), cfg.batch_size, world)
    return items, eval_items(cfg) if cfg.eval_every else None


@dataclass(kw_only=True)
class _Trainer:
    """One launch's training state: the prepared U-Net, optimizer, LR schedule, EMA and step counter."""

    cfg: TrainConfig
    accelerator: Any
    unet: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LambdaLR
    ema: EMA
    state: TrainState
    feats: Features
    alphas: torch.Tensor
    scaling: float
    events: Events

    @classmethod
    def start(cls, cfg: TrainConfig, accelerator, components, feats: Features, alphas, resume_from) -> _Trainer:
        """Prepare the U-Net and its optimizer under ``accelerator``; restore ``resume_from`` if given."""
        unet = components.unet.float().train().requires_grad_(True)
        optimizer = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(cfg.warmup_steps))
        unet, optimizer = accelerator.prepare(unet, optimizer)
        ema = EMA(accelerator.unwrap_model(unet), cfg.ema)
        state = TrainState()
        accelerator.register_for_checkpointing(schedule, ema, state)
        if resume_from is not None:
            accelerator.load_state(str(resume_from))
            _apply_settings(cfg, optimizer, schedule, ema)  # identical unless --force changed them
        scaling = float(components.vae.config.scaling_factor)
        return cls(
            cfg=cfg,
            accelerator=accelerator,
            unet=unet,
            optimizer=optimizer,
            schedule=schedule,
            ema=ema,
            state=state,
            feats=feats,
            alphas=alphas,
            scaling=scaling,
            events=Events(cfg.run / "tensorboard", enabled=accelerator.is_main_process),
        )

    def state_json(self) -> str:
        return json.dumps({"step": self.state.step, "settings": recorded(self.cfg, self.world)}, indent=2)

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    def run(self, evaluator) -> dict | None:
        """Optimizer steps up to ``max_steps``: log, checkpoint and evaluate as configured; the last evaluation."""
        cfg, main = self.cfg, self.accelerator.is_main_process
        log = CsvLog(cfg.run / "train.csv") if main else None
        if log is not None:
            log.truncate(self.state.step)
        show = cfg.progress and main
        bar = tqdm(total=cfg.max_steps, initial=self.state.step, desc="fine-tuning", unit="step", disable=not show)
        last_eval = None
        with StopSignals() as stop:
            while self.state.step < cfg.max_steps:
                row = self.step()
                if log is not None:
                    log.append(row)
                    self.events.scalars(row["step"], {k: v for k, v in row.items() if k != "step"}, "train")
                bar.set_postfix(loss=f"{row['loss']:.4f}")
                bar.update(1)
                last_eval = self.after_step(evaluator, last_eval)
                self.stop_if_asked(stop)
        bar.close()
        return last_eval

    def step(self) -> dict:
        """One optimizer step of ``grad_accum`` micro-batches per rank; its train.csv row."""
        cfg, accelerator, feats, device = self.cfg, self.accelerator, self.feats, self.accelerator.device
        start, step, accum, batch = time.perf_counter(), self.state.step, cfg.grad_accum, cfg.batch_size
        lr = self.optimizer.param_groups[0]["lr"]
        latent_shape = tuple(feats.mean.shape[1:])
        losses = []
        try:
            for micro in range(accum):
                g = step * accum + micro
                idx = indices(len(feats.clip_ids), batch, self.world, accelerator.process_index, cfg.seed, g)
                draw = draws(
                    (batch, *latent_shape), len(self.alphas), cfg.cfg_dropout, cfg.seed, g, accelerator.process_index
                )
                sync = contextlib.nullcontext() if micro == accum - 1 else accelerator.no_sync(self.unet)
                with sync:
                    inputs = (feats.mean[idx].to(device), feats.std[idx].to(device), feats.cond[idx].to(device))
                    loss = diffusion_loss(self.unet, self.alphas, self.scaling, *inputs, feats.empty, draw)
                    accelerator.backward(loss / accum)
                losses.append(loss.detach().float())
        except torch.OutOfMemoryError as err:
            raise AudiometricError(
                f"out of memory at step {step + 1} on {device}: lower --batch-size (raise "
                "--grad-accum to keep the effective batch) or use --precision fp16/bf16"
            ) from err
        mean_loss = accelerator.reduce(torch.stack(losses).mean().reshape(1), "mean").item()
        if not math.isfinite(mean_loss):
            kept = checkpoint.latest(cfg.run)
            raise AudiometricError(
                f"step {step + 1}: the loss is {mean_loss} (not finite); stopped without "
                f"saving; {kept or 'no checkpoint'} is the last good state; lower --lr, "
                "or use --precision fp32 or bf16, then --resume latest"
            )
        grad_norm = accelerator.clip_grad_norm_(self.unet.parameters(), cfg.max_grad_norm or math.inf).item()
        self.optimizer.step()
        if not accelerator.optimizer_step_was_skipped:
            self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.update(accelerator.unwrap_model(self.unet))
        self.state.step = step + 1
        seconds = time.perf_counter() - start
        return {
            "step": self.state.step,
            "loss": mean_loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "clips_per_s": batch * accum * self.world / seconds,
        }

    def after_step(self, evaluator, last_eval: dict | None) -> dict | None:
        """Checkpoint and evaluate when the step calls for it; the latest evaluation."""
        cfg, accelerator, step = self.cfg, self.accelerator, self.state.step
        done = step == cfg.max_steps
        if step % cfg.checkpoint_every == 0 or done:
            checkpoint.save(accelerator, cfg.run, step, cfg.keep_checkpoints, self.state_json())
        if evaluator is not None and (step % cfg.eval_every == 0 or done):
            # every rank generates its share with the (identical) EMA weights, then rank 0 scores
            averaged = _averaged(accelerator.unwrap_model(self.unet), self.ema)
            evaluator.generate(step, averaged, accelerator.process_index, self.world)
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                last_eval = evaluator.score(step)
                self.events.scalars(step, last_eval, "eval")
            accelerator.wait_for_everyone()
        return last_eval

    def stop_if_asked(self, stop: StopSignals) -> None:
        """After a Ctrl-C or SIGTERM on any rank: save a checkpoint and stop every rank."""
        flag = torch.tensor([float(stop.requested)], device=self.accelerator.device)
        if self.accelerator.reduce(flag, "sum").item() and self.state.step != self.cfg.max_steps:
            cfg = self.cfg
            saved = checkpoint.save(self.accelerator, cfg.run, self.state.step, cfg.keep_checkpoints, self.state_json())
            raise TrainingInterrupted(
                f"interrupted at step {self.state.step}: saved {saved}; run the same command "
                "with --resume latest to continue"
            )

    def finish(self, components, last_eval: dict | None) -> dict:
        """Write RUN/final (rank 0) and return the run's summary."""
        from accelerate.utils import gather_object

        accelerator, unet = self.accelerator, self.accelerator.unwrap_model(self.unet)
        # every rank's U-Net must be identical after DDP's all-reduced steps: record each rank's weight digest
        digests = gather_object([module_digest(unet)])
        final = (
            write_final(self.cfg, components, unet, self.ema, self.state.step) if accelerator.is_main_process else None
        )
        self.events.close()
        accelerator.wait_for_everyone()
        return {
            "run": str(self.cfg.run),
            "steps": self.state.step,
            "final": str(final) if final else None,
            "last_eval": last_eval,
            "clips": len(self.feats.clip_ids),
            "cache_hits": self.feats.hits,
            "cache_misses": self.feats.misses,
            "world_size": self.world,
            "rank_weight_digests": digests,
        }


def _apply_settings(cfg: TrainConfig, optimizer, schedule, ema: EMA) -> None:
    """Make a restored optimizer, LR schedule and EMA follow ``cfg`` (what ``--force`` promises)."""
    factor = warmup_factor(cfg.warmup_steps)(schedule.last_epoch)
    schedule.base_lrs = [cfg.lr] * len(optimizer.param_groups)
    for group in optimizer.param_groups:
        group.update(initial_lr=cfg.lr, lr=cfg.lr * factor, weight_decay=cfg.weight_decay)
    ema.decay = cfg.ema


def _averaged(unet: torch.nn.Module, ema: EMA) -> torch.nn.Module:
    """A copy of ``unet`` holding the EMA weights (for evaluation; training weights untouched)."""
    averaged = copy.deepcopy(unet)
    ema.copy_to(averaged)
    return averaged.eval()
