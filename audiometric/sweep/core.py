"""The sweep's one door into the scoring core (extractor, clip sets, metrics, sharding).

Everything the sweep needs from ``audiometric`` outside this package goes through here, mostly through the
interfaces fixed across the project (``evaluate.compute``/``Settings``, ``METRICS``, ``scoring.make_extractor``,
``Extractor.run``, ``extract_folder``, ``ClipSet``; besides them: the extractor's ``progress`` and ``keys``,
the sharding helpers of ``distributed``, ``files.AUDIO_EXTENSIONS``), so a change in the core touches this
one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch.distributed as dist

from audiometric.audio.files import AUDIO_EXTENSIONS
from audiometric.corrupt.clip import stable_hash
from audiometric.errors import AudiometricError
from audiometric.extraction.clipset import ClipSet, extract_folder, gather
from audiometric.extraction.extract import Clip, Extraction, Extractor
from audiometric.metrics import BACKBONE_SEPARATOR, get_metric, split_request
from audiometric.runtime.distributed import shard
from audiometric.scoring.captions import TEXT, Captions, embed_captions
from audiometric.scoring.compute import Settings, backbone_for, compute, metric_input, needed_outputs
from audiometric.scoring.pipeline import ExtractionOptions, make_extractor, versions
from audiometric.sweep import swap

__all__ = ["ExtractionOptions", "Scorer", "barrier", "preview_names", "versions"]


def barrier() -> None:
    """Wait for every ``torchrun`` rank (no-op in one process)."""
    if dist.is_initialized():
        dist.barrier()


def preview_names(folder: str) -> list[str]:
    """Relative names of the audio files under ``folder``, for checks before any work (the scoring core's
    listing, run on the reference, is authoritative)."""
    root = Path(folder)
    if not root.is_dir():
        raise AudiometricError(f"--ref {folder}: not a folder; pass the folder of clean reference clips")
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


@dataclass(kw_only=True)
class Scorer:
    """Backbones loaded once, an extractor, and the metric settings of one sweep."""

    settings: Settings
    extractor: Extractor
    rank: int = 0
    size: int = 1
    strict: bool = False  # an unusable reference file is an error, not a skip (``--strict``)
    #: backbone -> clip name -> its caption's text embedding ``(1, dim)`` (``clap_score``; see :meth:`caption`)
    captions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        metrics: tuple[str, ...],
        backbone: str,
        fad_backbone: str,
        bootstrap: int,
        confidence: float,
        opts: ExtractionOptions,
        rank: int = 0,
        size: int = 1,
    ) -> Scorer:
        """Load the backbones the metrics read (this rank of ``size``); one-line error for a missing output."""
        settings = Settings(
            metrics=metrics, backbone=backbone, fad_backbone=fad_backbone, bootstrap=bootstrap, confidence=confidence
        )
        extractor = make_extractor(needed_outputs(settings), opts, progress=rank == 0)
        return cls(settings=settings, extractor=extractor, rank=rank, size=size, strict=opts.strict)

    def backbones(self) -> dict[str, str | None]:
        """Backbone name -> checkpoint SHA-256 (part of every cell key)."""
        return {name: model.checkpoint_sha256 for name, model in sorted(self.extractor.backbones.items())}

    def cache_settings(self) -> dict:
        """The extractor's per-backbone cache settings (preprocessing, resampler, rates)."""
        return {name: key.settings for name, key in sorted(self.extractor.keys.items())}

    def caption(self, captions: Captions, names: list[str], where: str) -> None:
        """Embed the caption of every clip name once (one-line error for a name without one), by the text
        tower of each backbone a captions metric reads; every clip this scorer extracts then carries its own
        as output ``TEXT``, found by name (a corrupted clip keeps its clean original's name)."""
        texts = captions.lookup(names, where)
        for metric in self.settings.metrics:
            backbone = backbone_for(metric, self.settings)[0]
            if get_metric(metric).reference == "captions" and backbone not in self.captions:
                rows = embed_captions(texts, self.extractor.backbones[backbone])
                self.captions[backbone] = {name: rows[i : i + 1] for i, name in enumerate(names)}

    def _add_captions(self, clips: list[Clip], root: Path) -> None:
        """Each clip's caption rows (from :meth:`caption`) beside its audio outputs."""
        for clip in clips:
            name = Path(clip.path).relative_to(root).as_posix()
            for backbone, rows in self.captions.items():
                if backbone in clip.outputs:
                    clip.outputs[backbone][TEXT] = rows[name]

    def reference(self, folder: Path) -> ClipSet:
        """The clean reference folder through the backbones, with the score command's listing and sharding."""
        clips = extract_folder(str(folder), self.extractor, self.strict, self.rank, self.size, "reference")
        self._add_captions(clips.extraction.clips, folder)
        return clips

    def embed(self, files: list[Path], names: list[str], root: Path, desc: str, progress: bool = True) -> Extraction:
        """Outputs of every backbone for ``files`` (sharded across ranks, gathered in file order).

        Each returned clip's ``path`` becomes ``root / names[i]``: the corrupted clip is named as its clean
        original, so a set built by :func:`clip_set` over ``root`` names (and KL pairs) it the same way.
        """
        mine = shard(files, self.rank, self.size)
        shown, self.extractor.progress = self.extractor.progress, self.extractor.progress and progress
        # decode in this process: forking DataLoader workers while the corruption thread runs hung a cold
        # sweep (both workers idle, the main process waiting on them); the cells' WAVs are cheap to decode
        workers, self.extractor.workers = self.extractor.workers, 0
        try:
            result = gather(self.extractor.run([files[i] for i in mine], desc=desc), mine, self.size)
        finally:
            self.extractor.progress, self.extractor.workers = shown, workers
        for clip in result.clips:
            clip.path = str(root / names[clip.index])
        self._add_captions(result.clips, root)
        return result

    def compute(
        self,
        gen: list[Clip],
        ref: list[Clip],
        root: Path,
        metrics: tuple[str, ...],
        seed: int = 0,
        bootstrap: bool = True,
    ) -> tuple[dict[str, dict[str, dict]], dict[str, str]]:
        """Each metric of ``metrics`` for clips ``gen`` against ``ref``: ``({metric: {entry name: entry}},
        {metric: why not computed})``, one ``compute`` call per metric, so every entry (``kl_softmax``,
        ``density``, ...) is filed under the metric that produced it.

        With ``bootstrap`` (and the sweep's replicates > 0) each entry keeps its bootstrap values: the draws
        are seeded by ``seed`` alone, so every level of a seed resamples the same clip indices.
        """
        values: dict[str, dict[str, dict]] = {}
        reasons: dict[str, str] = {}
        gen_set, ref_set = clip_set(root, gen), clip_set(root, ref)
        for metric in metrics:
            settings = Settings(
                metrics=(metric,),
                backbone=self.settings.backbone,
                fad_backbone=self.settings.fad_backbone,
                bootstrap=self.settings.bootstrap if bootstrap else 0,
                confidence=self.settings.confidence,
                seed=seed,
                keep_replicates=True,
            )
            entries, why = compute(settings, gen_set, ref_set, None)
            if entries:
                values[metric] = entries
            reasons.update(why)
        return values, reasons

    def swap_test(
        self, clean: list[Clip], damaged: list[Clip], ref: list[Clip], root: Path, metric: str, seed: int
    ) -> dict[str, dict]:
        """:func:`~audiometric.sweep.swap.swap_deltas` of ``metric`` for ``damaged`` (the corrupted versions
        of ``clean``, same names) against ``ref``; ``{}`` where the metric cannot be computed."""
        settings = replace(self.settings, metrics=(metric,), bootstrap=0)
        sets = [clip_set(root, clips) for clips in (clean, damaged, ref)]
        try:
            before, after = (metric_input(metric, settings, s, sets[2]) for s in sets[:2])
        except AudiometricError:
            return {}
        seed_seq = np.random.SeedSequence([seed, stable_hash("\0sweep-swap")])
        out = swap.swap_deltas(get_metric(metric), before, after, swap.PERMUTATIONS, int(seed_seq.generate_state(1)[0]))
        asked_on = split_request(metric)[1]  # fd@passt's entries are fd@passt, as compute files them
        return {name if asked_on is None else f"{name}{BACKBONE_SEPARATOR}{asked_on}": v for name, v in out.items()}


def clip_set(root: Path, clips: list[Clip]) -> ClipSet:
    """A :class:`ClipSet` of folder ``root`` over already extracted clips (no files are read)."""
    return ClipSet(str(root), len(clips), Extraction(clips=list(clips), skipped=[]))


def lower_is_better(metric: str) -> bool:
    """Direction of a registered metric (and of every entry it produces)."""
    return get_metric(metric).lower_is_better
