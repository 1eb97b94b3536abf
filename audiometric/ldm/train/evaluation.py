"""Periodic evaluation of a run: generate the held-out prompts with the EMA U-Net, score, log, plot.

The held-out reference is exported once as ``RUN/eval/reference/{clip_id}.wav`` (``datasets export``: 16 kHz,
cut or zero-padded to the training duration, PCM_16); each evaluation writes ``RUN/eval/step-{step}/
{clip_id}.wav`` with ``generate``'s per-clip seeds (fixed across evaluations, so the curve shows the model
changing rather than the sampling noise, and the last one equals ``generate --model RUN/final``), conditioned on the
CLAP text embedding of the clip's prompt (the seed study evaluates Table II with text conditioning), and
scores it against the reference with the scoring core (:func:`audiometric.evaluate.compute`, the same
code as ``audiometric score``); the row goes to ``RUN/eval.csv`` and ``RUN/curves.png`` is redrawn.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ...atomic import atomic_write
from ...datasets.export import export, fit, write_pcm16
from ...evaluate import Settings, compute, needed_outputs
from ...score import ExtractionOptions, make_extractor
from ...sets import extract_folder
from ..generate import clip_seed
from .logs import CsvLog
from .runfolder import with_unet

#: Columns of eval.csv taken from the scoring result, in this order when present.
_ORDER = ("fd", "is", "kl_softmax", "kl_sigmoid", "fad", "kad")


class Evaluator:
    """Generates and scores the evaluation prompts at a given step (call on one process)."""

    def __init__(self, cfg, components, items: list, device: torch.device, tower=None):
        from ..clap import clap_text_embeddings, empty_embedding, text_embeddings

        self.cfg, self.components, self.items, self.device = cfg, components, items, device
        self.tower = tower  # CLAP with an audio tower: ranks the --eval-candidates
        self.root = cfg.run / "eval"
        self.reference = self.root / "reference"
        export(items, self.reference, cfg.duration, progress=False,
               provenance={"dataset": cfg.dataset, "split": cfg.eval_split, "eval_size": len(items), "seed": cfg.seed})
        with torch.no_grad():
            self.cond = torch.as_tensor(text_embeddings(components, [it.prompt for it in items])).float()
            self.uncond = torch.as_tensor(empty_embedding(components)).float().reshape(1, -1)
            # candidates are ranked by CLAP audio-text similarity to the prompt, as AudioLDM (and generate) do
            self.targets = clap_text_embeddings(tower, [it.prompt for it in items]) if cfg.eval_candidates > 1 else None
        self.settings = Settings(metrics=tuple(cfg.eval_metrics), backbone=cfg.eval_backbone,
                                 fad_backbone=cfg.eval_fad_backbone)
        self.log = CsvLog(cfg.run / "eval.csv")
        self._extractor = None

    def extractor(self):
        if self._extractor is None:
            opts = ExtractionOptions(device=str(self.device), workers=0, progress=False)
            self._extractor = make_extractor(needed_outputs(self.settings), opts, progress=False)
        return self._extractor

    def generate(self, unet: torch.nn.Module, folder: Path) -> None:
        """Every held-out prompt through :func:`audiometric.ldm.sample.sample` with ``unet``; with
        ``eval_candidates`` k > 1, k samples per prompt and the one closest to the prompt in CLAP is kept."""
        from ..clap import audio_embeddings
        from ..sample import sample

        components = with_unet(self.components, unet)
        k = self.cfg.eval_candidates
        size = max(1, self.cfg.eval_batch_size // k)
        rate = components.sample_rate
        for start in range(0, len(self.items), size):
            chunk = self.items[start:start + size]
            if all((folder / f"{it.clip_id}.wav").is_file() for it in chunk):
                continue
            cond = self.cond[start:start + len(chunk)].to(self.device).repeat_interleave(k, dim=0)
            seeds = [clip_seed(self.cfg.seed, it.clip_id, j) for it in chunk for j in range(k)]
            waves = sample(components, cond, self.uncond.to(self.device), seeds, self.cfg.eval_steps,
                           self.cfg.eval_guidance, self.cfg.duration).reshape(len(chunk), k, -1)
            for i, item in enumerate(chunk):
                best = 0
                if k > 1:
                    emb = audio_embeddings(self.tower, list(waves[i]), rate)
                    best = int(torch.argmax(emb @ self.targets[start + i].to(emb)))
                write_pcm16(folder / f"{item.clip_id}.wav", fit(waves[i, best], rate, self.cfg.duration), rate)

    def __call__(self, step: int, unet: torch.nn.Module) -> dict[str, float]:
        """Generate with ``unet`` (the EMA weights), score, append to eval.csv, redraw curves.png."""
        folder = self.root / f"step-{step}"
        was_training = unet.training
        unet.eval()
        try:
            self.generate(unet, folder)
        finally:
            unet.train(was_training)
        extractor = self.extractor()
        gen = extract_folder(str(folder), extractor, False, 0, 1, "generated")
        ref = extract_folder(str(self.reference), extractor, False, 0, 1, "reference")
        values, not_computed = compute(self.settings, gen, ref, None)
        for name, why in not_computed.items():
            warnings.warn(f"evaluation at step {step}: {name} not computed ({why})", stacklevel=2)
        row = {name: float(values[name]["value"]) for name in _ORDER if name in values}
        row.update({n: float(e["value"]) for n, e in values.items() if n not in row and "value" in e})
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

