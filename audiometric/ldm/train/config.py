"""Fine-tuning settings: one dataclass, its defaults and where each comes from, YAML loading, resume checks.

Sources of the defaults ("AudioLDM config" is ``audioldm_train/config/2023_08_23_reproduce_audioldm/
audioldm_original.yaml`` of haoheliu/AudioLDM-training-finetuning, the published training recipe):
- lr 3e-5: the issue's default, as AudioLDM fine-tuning scripts use for ``cvssp/audioldm-s-full-v2`` (e.g.
  declare-lab's Tango recipes); the AudioLDM config trains from scratch with 1e-4.
- warmup_steps 2000 (linear warm-up, then constant): AudioLDM config ``warmup_steps``.
- batch_size 2 per process: AudioLDM config ``model.params.batchsize``.
- AdamW with torch's defaults (betas 0.9/0.999, eps 1e-8, weight decay 0.01): latent diffusion's
  ``configure_optimizers`` builds ``torch.optim.AdamW(params, lr=lr)``.
- cfg_dropout 0.1: AudioLDM config ``unconditional_prob_cfg``.
- ema 0.9999: latent diffusion's ``LitEma`` default (AudioLDM trains with ``use_ema``).
- precision "fp32": AudioLDM trains in fp32 (its Lightning trainer leaves ``precision="16-mixed"`` commented out).
- max_grad_norm 1.0: AudioLDM does not clip (Lightning's default); 1.0 is diffusers' training examples'.
- checkpoint_every 5000: AudioLDM config ``save_checkpoint_every_n_steps``; eval_every 5000: the issue.
- eval_steps 200, eval_guidance 3.5: AudioLDM config ``evaluation_params`` (DDIM steps, guidance scale);
  its ``n_candidates_per_samples`` is 3, eval_candidates defaults to 1 (each candidate costs a full sampling).
- duration 10.24 s: AudioLDM config ``preprocessing.audio.duration``.
- eval_size: the seed study's held-out sizes (870 UrbanSound8K, 400 ESC-50 clips).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiometric.errors import AudiometricError
from audiometric.runtime.config import read_options

#: Held-out clips scored at each evaluation when ``eval_size`` is not given (the seed study's sizes).
DEFAULT_EVAL_SIZE = {"us8k": 870, "esc50": 400}


@dataclass(kw_only=True)
class TrainConfig:
    """Everything a fine-tuning run depends on; field names are the CLI options with ``_`` for ``-``."""

    dataset: str
    data_dir: str
    model: str
    out: str
    condition: str = "text"
    clap: str | None = None
    from_scratch: bool = False
    max_steps: int = 50000
    batch_size: int = 2
    grad_accum: int = 1
    lr: float = 3e-5
    warmup_steps: int = 2000
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    ema: float = 0.9999
    cfg_dropout: float = 0.1
    precision: str = "fp32"
    duration: float = 10.24
    train_split: str = "train"
    eval_split: str = "test"
    prompt_template: str | None = None
    skip_missing: bool = False
    file_pattern: str | None = None  # AudioCaps/AudioSet audio file names (the dataset's option)
    audio_dir: str | None = None  # AudioCaps/AudioSet audio folder (default DATA_DIR/audio)
    eval_every: int = 5000
    eval_size: int | None = None
    eval_steps: int = 200
    eval_guidance: float = 3.5
    eval_candidates: int = 1
    eval_batch_size: int = 8
    eval_metrics: tuple[str, ...] = ("fd", "is", "kl", "fad")
    eval_backbone: str = "panns-cnn14-16k"
    eval_fad_backbone: str = "vggish"
    checkpoint: tuple[str, ...] = ()  # NAME=PATH: local weights of the evaluation backbones (as score's)
    checkpoint_every: int = 5000
    keep_checkpoints: int = 3
    resume: str | None = None
    force: bool = False
    seed: int = 0
    world_size: int | None = None
    encode_batch_size: int = 8
    progress: bool = True

    def __post_init__(self) -> None:
        self.eval_metrics = tuple(self.eval_metrics)
        self.checkpoint = tuple(self.checkpoint)
        checks = [
            (self.condition in ("text", "audio"), "--condition must be text or audio"),
            (self.precision in ("fp32", "fp16", "bf16"), "--precision must be fp32, fp16 or bf16"),
            (self.max_steps >= 1, "--max-steps must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.grad_accum >= 1, "--grad-accum must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (self.warmup_steps >= 0, "--warmup-steps must be 0 or more"),
            (0.0 <= self.ema <= 1.0, "--ema must lie in [0, 1]"),
            (0.0 <= self.cfg_dropout <= 1.0, "--cfg-dropout must lie in [0, 1]"),
            (self.duration > 0, "--duration must be positive (seconds)"),
            (self.eval_every >= 0, "--eval-every must be 0 (off) or more"),
            (self.eval_candidates >= 1, "--eval-candidates must be at least 1"),
            (self.checkpoint_every >= 1, "--checkpoint-every must be at least 1"),
            (self.keep_checkpoints >= 1, "--keep-checkpoints must be at least 1"),
            (self.world_size is None or self.world_size >= 1, "--world-size must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise AudiometricError(message)

    @property
    def run(self) -> Path:
        return Path(self.out)

    def dataset_options(self) -> dict[str, Any]:
        """The dataset's own options that were given (``file_pattern``, ``audio_dir``)."""
        return {k: v for k, v in {"file_pattern": self.file_pattern, "audio_dir": self.audio_dir}.items() if v}

    def training_settings(self) -> dict:
        """The fields that change the trained weights (compared on ``--resume``)."""
        skip = {
            "out",
            "max_steps",
            "eval_every",
            "eval_size",
            "eval_steps",
            "eval_guidance",
            "eval_batch_size",
            "eval_metrics",
            "eval_candidates",
            "eval_backbone",
            "eval_fad_backbone",
            "checkpoint",
            "checkpoint_every",
            "keep_checkpoints",
            "resume",
            "force",
            "progress",
            "encode_batch_size",
            "data_dir",
            "audio_dir",
        }
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def load_yaml(path: str | Path) -> dict:
    """Options from a YAML file (keys as the CLI options, ``-`` or ``_``); unknown keys are an error."""
    known = [f.name for f in dataclasses.fields(TrainConfig)]
    return read_options(path, known, "`audiometric finetune --help`")


def differences(saved: dict, current: dict) -> list[str]:
    """``name: saved -> current`` for each training setting that differs (JSON round-trip of both)."""
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current))
    return [
        f"{k}: {saved.get(k)!r} -> {current.get(k)!r}"
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    ]
