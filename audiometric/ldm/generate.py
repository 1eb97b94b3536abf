"""Generated sets: one WAV per reference clip or prompt, seeded, batched, resumable, with a manifest.

``out/{clip_id}.wav`` (16 kHz PCM_16, what audioldm_eval reads) and ``out/manifest.json`` (model, digest,
conditioning, seeds, sampler, attention layout, versions, and per clip its prompt, seeds and CLAP scores).
"""

from __future__ import annotations

import hashlib
import json
import platform
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from audiometric._version import __version__
from audiometric.audio.files import WRITTEN_BY
from audiometric.datasets import Item
from audiometric.datasets.export import fit, read_mono, write_pcm16
from audiometric.datasets.prompts import read_prompts
from audiometric.errors import AudiometricError
from audiometric.ldm import clap
from audiometric.ldm.components import Components, load_components
from audiometric.ldm.sample import sample
from audiometric.runtime.atomic import atomic_write_text
from audiometric.runtime.device import resolve_device
from audiometric.runtime.outputs import RunFolder, run_folder

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: Below this mean cosine between the pipeline's and the CLAP's text embeddings, the CLAP is not the one the
#: U-Net was trained with (the same CLAP gives 1.0; independent towers measure 0.39-0.47 on the tiny test models).
AGREEMENT_WARNING = 0.9
_AGREEMENT_PROMPTS = ["a dog barks", "rain falls on a tin roof", "a man speaks", "an engine idles", "birds chirp"]


@dataclass(frozen=True)
class Job:
    """One clip to generate: its output name, prompt, and (for audio conditioning) the reference file."""

    clip_id: str
    prompt: str
    reference: Path | None = None


@dataclass(kw_only=True, frozen=True)
class GenerateSettings:
    """Everything that changes the generated audio (batch size does not: per-clip seeds)."""

    model: str
    condition: str = "text"  # "text" (CLAP text of the prompt) or "audio" (CLAP audio of the reference)
    steps: int = 200
    guidance: float = 2.5
    duration: float = 10.24  # seconds
    candidates: int = 1  # > 1: keep the best by CLAP similarity, as AudioLDM does
    seed: int = 0
    precision: str = "fp32"
    original_attention: bool = False
    clap: str | None = None  # CLAP with an audio tower: audio conditioning and candidate ranking


def jobs_from_items(items: list[Item]) -> list[Job]:
    return [Job(item.clip_id, item.prompt, item.path) for item in items]


def jobs_from_prompts(path: str | Path) -> list[Job]:
    """Prompts from a text file (one per line, named 00000, 00001, ...) or a CSV with name and prompt columns."""
    return [Job(name, prompt) for name, prompt in read_prompts(path)]


def clip_seed(seed: int, clip_id: str, candidate: int = 0) -> int:
    """The seed of one candidate of one clip: a hash of (seed, clip id, candidate), so it depends on neither
    the batch nor the clip's position in the list."""
    digest = hashlib.sha256(f"{seed}\0{clip_id}\0{candidate}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def versions() -> dict[str, str]:
    import diffusers
    import transformers

    return {
        "audiometric": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }


def _check_precision(precision: str, device: torch.device) -> torch.dtype:
    if precision not in PRECISIONS:
        raise AudiometricError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type == "cpu":
        raise AudiometricError("--precision fp16 needs a GPU (CPU kernels lack half precision); use bf16 or fp32")
    return PRECISIONS[precision]


#: The provenance keys that choose which clips a run generates (with :class:`GenerateSettings`, a run's identity).
SELECTION = ("dataset", "data_dir", "split", "eval_size", "seed", "prompt_template", "prompts_file")


def check_out(
    out: str | Path, jobs: list[Job], settings: GenerateSettings, provenance: dict, overwrite: bool = False
) -> RunFolder:
    """``out`` checked by the output policy (before any work): this run's folder to resume, a new one, or an
    error naming the run that wrote it. The run is its settings and its clip selection."""
    selection = {key: provenance.get(key) for key in SELECTION}
    local = [Path(p) for p in (settings.model, settings.clap) if p and Path(p).exists()]
    inputs = [*local, *(job.reference for job in jobs if job.reference is not None)]
    inputs += [provenance[key] for key in ("data_dir", "prompts_file") if provenance.get(key)]
    return run_folder(
        out,
        command="generate",
        settings={**asdict(settings), **selection},
        inputs=inputs,
        overwrite=overwrite,
    )


def _conditions(
    components: Components, tower: clap.ClapAudio | None, jobs: list[Job], settings: GenerateSettings, seeds: list[int]
) -> torch.Tensor:
    """(B, D) conditioning rows: CLAP text of the prompts, or CLAP audio of the references."""
    if settings.condition == "text":
        return clap.text_embeddings(components, [job.prompt for job in jobs])
    assert tower is not None  # prepare() refuses --condition audio without --clap
    embeds = []
    for job, seed in zip(jobs, seeds):  # one clip at a time: each file keeps its own rate, each crop its seed
        assert job.reference is not None  # generate() refuses --condition audio without reference clips
        wave, rate = read_mono(job.reference)
        embeds.append(clap.audio_embeddings(tower, [wave], rate, seeds=[seed]))
    return torch.cat(embeds)


def _rank(tower: clap.ClapAudio, waves: np.ndarray, rate: int, target: torch.Tensor) -> np.ndarray:
    """Cosine between each generated wave's CLAP audio embedding and ``target`` (1, D)."""
    emb = clap.audio_embeddings(tower, list(waves), rate)
    return (emb @ target.to(emb).T)[:, 0].cpu().numpy()


def _targets(tower: clap.ClapAudio, jobs: list[Job], cond: torch.Tensor, settings: GenerateSettings) -> torch.Tensor:
    """What candidates are ranked against: the CLAP text of the prompt, or the reference's CLAP audio."""
    if settings.condition == "audio":
        return cond
    return clap.clap_text_embeddings(tower, [job.prompt for job in jobs])


def check_settings(settings: GenerateSettings, device: str | None = None) -> torch.device:
    """The device to run on (``--device``, default ``auto``: the resolver ``score`` uses), after the checks
    of ``settings`` that need no model; one-line errors."""
    if settings.condition not in ("text", "audio"):
        raise AudiometricError(f"--condition {settings.condition!r}: choose text or audio")
    if settings.candidates < 1 or settings.steps < 1:
        raise AudiometricError("--candidates and --steps must be at least 1")
    target = resolve_device(device or "auto")
    _check_precision(settings.precision, target)
    if (settings.condition == "audio" or settings.candidates > 1) and not settings.clap:
        raise AudiometricError(
            "--condition audio and --candidates > 1 need --clap, a CLAP with an audio tower "
            "(e.g. laion/clap-htsat-unfused or a local copy of it)"
        )
    return target


def prepare(settings: GenerateSettings, device: str | None = None) -> tuple[Components, clap.ClapAudio | None, dict]:
    """Load the model (and CLAP when needed) and measure what the manifest records about them."""
    target = check_settings(settings, device)
    dtype = PRECISIONS[settings.precision]
    components = load_components(settings.model, target, dtype, settings.original_attention)
    tower = clap.load_clap_audio(settings.clap, target) if settings.clap else None
    info = {
        "model": settings.model,
        "model_digest": components.digest,
        "device": str(target),
        "attention": components.attention_layout(),
        "scheduler": {"class": type(components.scheduler).__name__, "eta": 0.0, **dict(components.scheduler.config)},
        "sample_rate": components.sample_rate,
        "versions": versions(),
    }
    if tower is not None:
        agreement = clap.text_tower_agreement(components, tower, _AGREEMENT_PROMPTS)
        info["clap"] = {"source": settings.clap, "text_tower_agreement": agreement}
        if agreement is not None and not agreement >= AGREEMENT_WARNING:
            warnings.warn(
                f"--clap {settings.clap}: its text embeddings agree with the pipeline's only to cosine "
                f"{agreement:.3f} (< {AGREEMENT_WARNING}); it is not the CLAP {settings.model} was trained "
                f"with, so audio conditioning and ranking land off the model's space",
                stacklevel=2,
            )
        dim = components.unet.config.projection_class_embeddings_input_dim
        if settings.condition == "audio" and tower.model.config.projection_dim != dim:
            raise AudiometricError(
                f"--clap {settings.clap}: projection dim {tower.model.config.projection_dim} but "
                f"{settings.model} is conditioned on {dim}; pass the CLAP the model was trained with"
            )
    return components, tower, info


def generate(
    jobs: list[Job],
    settings: GenerateSettings,
    out: str | Path,
    batch_size: int = 8,
    device: str | None = None,
    provenance: dict | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Generate ``out/{clip_id}.wav`` for each job (finished clips of an earlier run are kept); returns the
    manifest also written to ``out/manifest.json`` after every batch. ``out`` follows the output policy
    (:func:`check_out`; ``overwrite`` takes over a folder of another run)."""
    if settings.condition == "audio" and any(job.reference is None for job in jobs):
        raise AudiometricError("--condition audio needs reference clips: pass --dataset and --data-dir, not --prompts")
    if batch_size < 1 or not jobs:
        raise AudiometricError("--batch-size must be at least 1" if jobs else "no clips to generate")
    check_settings(settings, device)
    provenance = provenance or {}
    folder = check_out(out, jobs, settings, provenance, overwrite)
    manifest_path = folder.path / "manifest.json"
    done = _finished(manifest_path) if folder.resume else {}
    todo = [job for job in jobs if not (job.clip_id in done and (folder.path / f"{job.clip_id}.wav").exists())]
    if not todo:  # a finished run: nothing to load
        return json.loads(manifest_path.read_text())
    components, tower, info = prepare(settings, device)
    manifest = {
        WRITTEN_BY: "audiometric generate",
        "settings": asdict(settings),
        **info,
        **provenance,
        "clips": dict(done),
    }
    folder.claim()
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="generate", unit="clip", disable=not progress)
    per_batch = max(1, batch_size // settings.candidates)
    for start in range(0, len(todo), per_batch):
        batch = todo[start : start + per_batch]
        manifest["clips"].update(_generate_batch(components, tower, batch, settings, folder.path, batch_size))
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
        bar.update(len(batch))
    bar.close()
    return manifest


def _finished(manifest_path: Path) -> dict[str, dict]:
    """The clips an earlier run of the same settings recorded in its manifest (none when it has none)."""
    if not manifest_path.is_file():
        return {}
    try:
        return json.loads(manifest_path.read_text()).get("clips", {})
    except (ValueError, AttributeError):
        raise AudiometricError(
            "unreadable manifest", path=manifest_path, fix="remove it (or pass --overwrite) to start the run again"
        ) from None


def _generate_batch(
    components: Components,
    tower: clap.ClapAudio | None,
    batch: list[Job],
    settings: GenerateSettings,
    out: Path,
    batch_size: int,
) -> dict[str, dict]:
    """Sample one batch (every candidate of every clip), keep each clip's best, write its WAV; return the
    manifest entries by clip id."""
    seeds = [[clip_seed(settings.seed, job.clip_id, k) for k in range(settings.candidates)] for job in batch]
    cond = _conditions(components, tower, batch, settings, [s[0] for s in seeds])
    rows = cond.repeat_interleave(settings.candidates, dim=0)
    uncond = clap.empty_embedding(components)
    flat = [s for clip in seeds for s in clip]
    try:
        waves = sample(components, rows, uncond, flat, settings.steps, settings.guidance, settings.duration)
    except torch.cuda.OutOfMemoryError:
        raise AudiometricError(
            f"CUDA out of memory at --batch-size {batch_size}; lower --batch-size or use --precision fp16"
        ) from None
    if not np.isfinite(waves).all():
        raise AudiometricError(
            f"the model produced NaN/Inf audio at --precision {settings.precision}; use "
            f"--precision fp32 (or bf16, whose range is fp32's)"
        )
    waves = waves.reshape(len(batch), settings.candidates, -1)
    targets = _targets(tower, batch, cond, settings) if tower is not None and settings.candidates > 1 else None
    entries = {}
    for i, job in enumerate(batch):
        scores = None
        if tower is not None and targets is not None:
            scores = _rank(tower, waves[i], components.sample_rate, targets[i : i + 1])
        best = int(np.argmax(scores)) if scores is not None else 0
        write_pcm16(out / f"{job.clip_id}.wav", fit(waves[i, best], components.sample_rate, settings.duration))
        entries[job.clip_id] = {
            "prompt": job.prompt,
            "reference": str(job.reference) if job.reference else None,
            "seeds": seeds[i],
            "chosen": best,
            "clap_scores": [round(float(s), 6) for s in scores] if scores is not None else None,
        }
    return entries
