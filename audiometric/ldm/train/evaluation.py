"""Periodic evaluation of a run: generate the held-out prompts with the EMA U-Net, score, log, plot.

The held-out reference is exported once as ``RUN/eval/reference/{clip_id}.wav`` (``datasets export``: 16 kHz,
cut or zero-padded to the training duration, PCM_16); each evaluation writes ``RUN/eval/step-{step}/
{clip_id}.wav`` with ``generate``'s per-clip seeds (fixed across evaluations, so the curve shows the model
changing rather than the sampling noise, and the last one equals ``generate --model RUN/final``), conditioned on the
CLAP text embedding of the clip's prompt (the seed study evaluates Table II with text conditioning); under
DDP every rank generates every W-th clip with the same EMA weights. Rank 0 then
scores them against the reference with the scoring core (:func:`audiometric.scoring.compute.compute`, the same
code as ``audiometric score``); the row goes to ``RUN/eval.csv`` and ``RUN/curves.png`` is redrawn.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from audiometric.backbones.weights import checkpoint_map
from audiometric.datasets.export import export, fit, write_pcm16
from audiometric.errors import AudiometricError, WeightsError
from audiometric.extraction.clipset import extract_folder
from audiometric.ldm.generate import clip_seed
from audiometric.ldm.train.logs import CsvLog
from audiometric.ldm.train.runfolder import with_unet
from audiometric.metrics import get_metric, request_labels
from audiometric.runtime.atomic import atomic_write
from audiometric.scoring.compute import Settings, compute, needed_outputs
from audiometric.scoring.pipeline import ExtractionOptions, make_extractor


def eval_items(cfg) -> list:
    """The held-out clips scored at each evaluation: ``--eval-split``, ``--eval-size`` (else the seed study's
    size for us8k/esc50, or the whole split if smaller); every audio file must be present (or skipped)."""
    from audiometric.datasets import get as get_dataset
    from audiometric.datasets.base import subset
    from audiometric.ldm.train.config import DEFAULT_EVAL_SIZE

    items = get_dataset(cfg.dataset).items(
        cfg.data_dir,
        split=cfg.eval_split,
        eval_size=cfg.eval_size,
        seed=cfg.seed,
        prompt_template=cfg.prompt_template,
        skip_missing=cfg.skip_missing,
        **cfg.dataset_options(),
    )
    default = DEFAULT_EVAL_SIZE.get(cfg.dataset)
    if cfg.eval_size is None and default is not None:
        items = subset(items, default, cfg.seed)
    return items


def eval_extractor(cfg, device: torch.device):
    """The evaluation's extractor, made before step 1: its metrics, its backbones and their weights resolved
    as ``score`` resolves them (``--checkpoint NAME=PATH``, the weights' environment variable, the cache,
    else a download, none when ``AUDIOMETRIC_OFFLINE`` is set); one line naming the flag that fixes it."""
    for metric in cfg.eval_metrics:
        try:
            get_metric(metric)
        except AudiometricError as err:
            raise AudiometricError(f"--eval-metrics: {err}") from None
    settings = Settings(metrics=tuple(cfg.eval_metrics), backbone=cfg.eval_backbone, fad_backbone=cfg.eval_fad_backbone)
    # accelerate names a CPU process's device "cpu:0", which the scoring options do not take
    name = "cpu" if device.type == "cpu" else str(device)
    try:
        opts = ExtractionOptions(device=name, workers=0, progress=False, checkpoints=checkpoint_map(cfg.checkpoint))
        return make_extractor(needed_outputs(settings), opts, progress=False)
    except WeightsError as err:
        raise WeightsError(f"evaluation weights: {err}; or train without evaluation: --eval-every 0") from None
    except AudiometricError as err:
        raise AudiometricError(f"evaluation (--eval-backbone, --eval-fad-backbone, --eval-metrics): {err}") from None


class Evaluator:
    """Generates (every rank its share of the prompts) and scores (rank 0) the evaluation at a given step."""

    def __init__(
        self,
        *,
        cfg,
        components,
        items: list,
        device: torch.device,
        tower=None,
        is_main: bool = True,
        extractor=None,
    ):
        from audiometric.ldm.clap import clap_text_embeddings, empty_embedding, text_embeddings

        self.cfg, self.components, self.items, self.device = cfg, components, items, device
        self.tower = tower  # CLAP with an audio tower: ranks the --eval-candidates
        self.root = cfg.run / "eval"
        self.reference = self.root / "reference"
        if is_main:
            export(
                items,
                self.reference,
                cfg.duration,
                progress=False,
                provenance={"dataset": cfg.dataset, "split": cfg.eval_split, "eval_size": len(items), "seed": cfg.seed},
            )
        with torch.no_grad():
            self.cond = torch.as_tensor(text_embeddings(components, [it.prompt for it in items])).float()
            self.uncond = torch.as_tensor(empty_embedding(components)).float().reshape(1, -1)
            # candidates are ranked by CLAP audio-text similarity to the prompt, as AudioLDM (and generate) do
            self.targets = clap_text_embeddings(tower, [it.prompt for it in items]) if cfg.eval_candidates > 1 else None
        self.settings = Settings(
            metrics=tuple(cfg.eval_metrics), backbone=cfg.eval_backbone, fad_backbone=cfg.eval_fad_backbone
        )
        self.log = CsvLog(cfg.run / "eval.csv") if is_main else None
        self._extractor = extractor

    def extractor(self):
        if self._extractor is None:
            self._extractor = eval_extractor(self.cfg, self.device)
        return self._extractor

    def folder(self, step: int) -> Path:
        return self.root / f"step-{step}"

    @torch.no_grad()
    def generate(self, step: int, unet: torch.nn.Module, rank: int = 0, world_size: int = 1) -> None:
        """This rank's share (every ``world_size``-th) of the held-out prompts through
        :func:`audiometric.ldm.sample.sample` with ``unet``; with ``eval_candidates`` k > 1, k samples per
        prompt and the one closest to the prompt in CLAP is kept. Per-clip seeds: any split gives the same files."""
        from audiometric.ldm.clap import audio_embeddings
        from audiometric.ldm.sample import sample

        components = with_unet(self.components, unet.eval())
        folder = self.folder(step)
        k = self.cfg.eval_candidates
        size = max(1, self.cfg.eval_batch_size // k)
        rate = components.sample_rate
        mine = list(range(rank, len(self.items), world_size))
        for start in range(0, len(mine), size):
            chunk = mine[start : start + size]
            if all((folder / f"{self.items[i].clip_id}.wav").is_file() for i in chunk):
                continue
            cond = self.cond[chunk].to(self.device).repeat_interleave(k, dim=0)
            seeds = [clip_seed(self.cfg.seed, self.items[i].clip_id, j) for i in chunk for j in range(k)]
            waves = sample(
                components,
                cond,
                self.uncond.to(self.device),
                seeds,
                self.cfg.eval_steps,
                self.cfg.eval_guidance,
                self.cfg.duration,
            ).reshape(len(chunk), k, -1)
            for row, i in enumerate(chunk):
                best = 0
                if k > 1:
                    assert self.targets is not None  # set whenever eval_candidates > 1
                    emb = audio_embeddings(self.tower, list(waves[row]), rate)
                    best = int(torch.argmax(emb @ self.targets[i].to(emb)))
                write_pcm16(
                    folder / f"{self.items[i].clip_id}.wav", fit(waves[row, best], rate, self.cfg.duration), rate
                )

    def score(self, step: int) -> dict[str, float]:
        """Score step ``step``'s generated clips (all written), append to eval.csv, redraw curves.png (rank 0)."""
        extractor = self.extractor()
        gen = extract_folder(str(self.folder(step)), extractor, False, 0, 1, "generated")
        ref = extract_folder(str(self.reference), extractor, False, 0, 1, "reference")
        values, not_computed = compute(self.settings, gen, ref, None)
        for name, why in not_computed.items():
            warnings.warn(f"evaluation at step {step}: {name} not computed ({why})", stacklevel=2)
        # eval.csv columns: each requested metric's result entries, in the order the metrics were asked for
        keys = [key for metric in self.settings.metrics for key in request_labels(metric)]
        row = {name: float(values[name]["value"]) for name in keys if name in values}
        row.update({n: float(e["value"]) for n, e in values.items() if n not in row and "value" in e})
        assert self.log is not None  # scoring runs on the main process, which keeps the log
        self.log.truncate(step - 1)
        self.log.append({"step": step, **row, "clips": len(self.items)})
        plot_curves(self.log.rows, self.cfg.run / "curves.png")
        return row


def plot_curves(rows: list[dict], path: Path) -> Path:
    """One panel per metric against training steps (the seed study's Figure 2), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [c for c in (rows[0] if rows else {}) if c not in ("step", "clips")]
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(3.2 * max(1, len(metrics)), 2.8), squeeze=False)
    steps = [int(r["step"]) for r in rows]
    for ax, name in zip(axes[0], metrics):
        values = [float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows]
        ax.plot(steps, values, marker="o")
        ax.set_xlabel("training step")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=120))
    plt.close(fig)
    return path
