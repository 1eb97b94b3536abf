"""``audiometric score``: extract both sets once, then compute every requested metric with provenance.

Each side is a folder of audio files or an ``.npz`` written by ``audiometric embed`` (per-clip outputs
already extracted, see :mod:`audiometric.scoring.export`). The reference may also be a statistics file written by
``audiometric stats`` (then only metrics that need no per-clip reference data are available).
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiometric import backbones
from audiometric._version import __version__
from audiometric.audio.preprocess import Preprocess, compat_fad
from audiometric.errors import AudiometricError, DataError
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.clipset import ClipSet, extract_folder
from audiometric.extraction.extract import Extractor, backbone_record, preprocessing_record
from audiometric.metrics import METRICS, get_metric
from audiometric.runtime.device import checked_device
from audiometric.runtime.distributed import process_group
from audiometric.scoring.captions import Captions, add_text_rows, read_captions
from audiometric.scoring.compute import Settings, backbone_for, compute, needed_outputs
from audiometric.scoring.export import StoredClipSet, is_embedding_file, load_embeddings
from audiometric.scoring.per_clip import per_clip, write_per_clip_csv
from audiometric.scoring.reference import ReferenceStats, check_provenance, load_reference

if TYPE_CHECKING:
    import torch

    from audiometric.backbones import LazyBackbone


@dataclass(kw_only=True)
class ExtractionOptions:
    """How clips are turned into backbone outputs (no effect on values beyond float rounding)."""

    device: str = "auto"
    batch_size: int = 16
    workers: int = 2
    preprocess: Preprocess = field(default_factory=Preprocess)
    strict: bool = False
    use_cache: bool = True
    progress: bool = True
    #: per-backbone preprocessing overrides (``--compat`` gives the FAD backbone audioldm_eval's FAD input)
    views: dict[str, Preprocess] = field(default_factory=dict)
    #: score files that decode shorter than their header says (a warning) instead of skipping them
    allow_truncated: bool = False
    #: backbone name -> local checkpoint (``--checkpoint NAME=PATH``); others resolve as usual
    checkpoints: dict[str, str] = field(default_factory=dict)
    #: backbone settings (``--param KEY=VALUE``), each given to the backbones that take KEY (``Spec.params``)
    backbone_params: dict[str, str] = field(default_factory=dict)
    #: ``--precision``: fp32, or fp16/bf16 autocast around each network (``Spec.precisions`` says which may)
    precision: str = "fp32"


def versions() -> dict[str, str]:
    """Versions of everything that can change a number."""
    import scipy
    import soundfile
    import soxr

    torch = sys.modules.get("torch")  # a fully cached run does not import it: read the installed version
    return {
        "audiometric": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__ if torch else importlib.metadata.version("torch"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
        "soxr": soxr.__version__,
    }


def load_models(
    needs: dict[str, set[str]],
    device: torch.device | str,
    checkpoints: dict[str, str] | None = None,
    held: dict[str, LazyBackbone] | None = None,
    params: dict[str, str] | None = None,
    precision: str = "fp32",
) -> dict[str, LazyBackbone]:
    """Each needed backbone with its checkpoint digest, built on ``device`` only when first run on a clip
    the cache lacks and run in ``precision``; a one-line error if it lacks an output a metric reads or does
    not tolerate ``precision``.

    ``held``: backbones a :class:`~audiometric.api.Scorer` already loaded (reused, and new ones added)."""
    models = {}
    held = {} if held is None else held
    for name, outputs in needs.items():
        missing = outputs - set(backbones.spec(name).outputs)
        if missing:
            raise AudiometricError(
                f"backbone '{name}' has no '{', '.join(sorted(missing))}' output (it gives "
                f"{', '.join(backbones.spec(name).outputs)}); choose other --metrics or "
                "another --backbone"
            )
        if name not in held:
            held[name] = backbones.LazyBackbone(
                name, device, (checkpoints or {}).get(name), backbones.params_for(name, params), precision=precision
            )
        models[name] = held[name]
    return models


def make_extractor(
    needs: dict[str, set[str]],
    opts: ExtractionOptions,
    progress: bool = True,
    held: dict[str, LazyBackbone] | None = None,
) -> Extractor:
    """Backbones (built on first use, or ``held`` ones reused) for the chosen device, wrapped in an
    extractor with the default cache."""
    backbones.check_params(needs, opts.backbone_params)
    device = checked_device(opts.device)
    return Extractor(
        backbones=load_models(needs, device, opts.checkpoints, held, opts.backbone_params, opts.precision),
        device=device,
        pre=opts.preprocess,
        cache=EmbeddingCache.default(opts.use_cache),
        batch_size=opts.batch_size,
        workers=opts.workers,
        progress=opts.progress and progress,
        views=opts.views,
        allow_truncated=opts.allow_truncated,
    )


def _stored_side(path: str, side: str, needs: dict[str, set[str]]) -> StoredClipSet | ReferenceStats | None:
    """What a file given as ``side`` holds: an embedding file's clips, statistics (reference only), or
    ``None`` for a folder."""
    if not Path(path).is_file():
        return None
    if is_embedding_file(path):
        return load_embeddings(path, needs)
    if side == "generated":
        raise AudiometricError(
            f"{path}: the generated side must be a folder of audio files or an `audiometric "
            "embed` .npz (a statistics file can only be the reference: it holds no clips)"
        )
    return load_reference(path)


def _provenance(
    extractor: Extractor | None, stored: list[StoredClipSet], opts: ExtractionOptions, needs: dict[str, set[str]]
) -> tuple[dict, dict]:
    """``(backbones, preprocessing)`` records of this run: the loaded models, or the first stored file's."""
    if extractor is not None:
        records = {name: backbone_record(m, needs[name]) for name, m in extractor.backbones.items()}
        return records, preprocessing_record(opts.preprocess, opts.views)
    meta = stored[0].meta
    return (
        {
            name: {
                "checkpoint_sha256": meta["backbones"][name]["checkpoint_sha256"],
                "sample_rate": meta["backbones"][name]["sample_rate"],
                "min_samples": meta["backbones"][name].get("min_samples"),
                "precision": meta["backbones"][name].get("precision", "fp32"),
                "outputs": sorted(needs[name]),
            }
            for name in needs
        },
        meta["preprocessing"],
    )


def score(
    generated: str,
    reference: str,
    settings: Settings,
    opts: ExtractionOptions,
    per_clip_csv: str | None = None,
    held: dict[str, LazyBackbone] | None = None,
    captions: str | None = None,
) -> dict | None:
    """Score ``generated`` (folder or embedding ``.npz``) against ``reference`` (folder, embedding or
    statistics ``.npz``): a JSON-able result.

    ``per_clip_csv``: also write the per-clip outlier ranking there (:mod:`audiometric.scoring.per_clip`).
    ``captions``: the generated clips' captions (:mod:`audiometric.scoring.captions`), for ``clap_score``.
    ``held``: backbones already loaded by a :class:`~audiometric.api.Scorer` (reused and extended).
    Under ``torchrun`` every rank extracts its shard; rank 0 computes and returns the result, others ``None``.
    """
    start = time.perf_counter()
    needs = needed_outputs(settings)
    caps = read_captions(captions) if captions else None
    if caps is not None and not Path(generated).is_file():
        caps.check_folder(generated)  # a clip without a caption fails before any decode
    if settings.compat and "fad" in settings.metrics and settings.fad_backbone != settings.backbone:
        opts = replace(opts, views={**opts.views, settings.fad_backbone: compat_fad(opts.preprocess)})
    with process_group(opts.device) as (rank, size):
        sides = Sides.load(generated, reference, needs, opts, rank, held)
        gen: ClipSet = sides.gen_stored or sides.extract(generated, opts.strict, rank, size, "generated")
        ref: ClipSet | None = None
        if sides.ref_stats is None:
            ref = sides.ref_clips or sides.extract(reference, opts.strict, rank, size, "reference")
    extracted = time.perf_counter()
    if rank != 0:
        return None
    if caps is not None:
        add_captions(caps, settings, gen, opts, sides.models(held))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values, not_computed = compute(settings, gen, ref, sides.ref_stats, progress=opts.progress)
        if per_clip_csv:
            write_per_clip_csv(per_clip(settings, gen, ref, sides.ref_stats), per_clip_csv)
    messages = sorted({str(w.message) for w in caught})
    for message in messages:
        warnings.warn(message, stacklevel=2)
    timings = (start, extracted, time.perf_counter())
    result = _result(settings, opts, sides, gen, ref, values, not_computed, messages, size, timings)
    if caps is not None:
        result["captions"] = caps.summary()
    return result


def add_captions(
    caps: Captions, settings: Settings, gen: ClipSet, opts: ExtractionOptions, held: dict[str, LazyBackbone]
) -> None:
    """Each clip of ``gen``'s caption embedding, by the text tower of every backbone a captions metric
    (``clap_score``) reads: the one in ``held`` (loaded networks), else loaded into it."""
    for metric in settings.metrics:
        if get_metric(metric).reference != "captions":
            continue
        backbone, output = backbone_for(metric, settings)
        if backbone not in held:
            device = checked_device(opts.device)
            load_models({backbone: {output}}, device, opts.checkpoints, held, opts.backbone_params, opts.precision)
        add_text_rows(caps, gen, held[backbone])


@dataclass(kw_only=True)
class Sides:
    """What each side of a score (or of a compared system) is (stored file or folder), the extractor for the
    folders, and provenance."""

    gen_stored: StoredClipSet | None
    ref_stored: StoredClipSet | ReferenceStats | None
    extractor: Extractor | None
    backbones: dict
    preprocessing: dict

    @property
    def ref_stats(self) -> ReferenceStats | None:
        return self.ref_stored if isinstance(self.ref_stored, ReferenceStats) else None

    @property
    def ref_clips(self) -> StoredClipSet | None:
        return self.ref_stored if isinstance(self.ref_stored, StoredClipSet) else None

    def models(self, held: dict[str, LazyBackbone] | None) -> dict[str, LazyBackbone]:
        """The networks loaded for these sides: ``held`` (a Scorer's), else the extractor's, else none yet."""
        if held is not None:
            return held
        return self.extractor.backbones if self.extractor is not None else {}

    def extract(self, folder: str, strict: bool, rank: int, size: int, desc: str) -> ClipSet:
        """The clips of a side given as a folder (this rank's shard under torchrun)."""
        assert self.extractor is not None  # made whenever a side is a folder
        return extract_folder(folder, self.extractor, strict, rank, size, desc)

    @classmethod
    def load(
        cls,
        generated: str,
        reference: str,
        needs: dict[str, set[str]],
        opts: ExtractionOptions,
        rank: int,
        held: dict[str, LazyBackbone] | None,
    ) -> Sides:
        """Read stored sides, make the extractor the folders need, and check every stored side's provenance."""
        gen_stored = _stored_side(generated, "generated", needs)
        assert not isinstance(gen_stored, ReferenceStats)  # _stored_side refuses statistics as the generated side
        ref_stored = _stored_side(reference, "reference", needs)
        stored = [s for s in (gen_stored, ref_stored) if isinstance(s, StoredClipSet)]
        folders = gen_stored is None or ref_stored is None
        extractor = make_extractor(needs, opts, progress=rank == 0, held=held) if folders else None
        backbone_info, preprocessing = _provenance(extractor, stored, opts, needs)
        sides = cls(
            gen_stored=gen_stored,
            ref_stored=ref_stored,
            extractor=extractor,
            backbones=backbone_info,
            preprocessing=preprocessing,
        )
        sides.check(opts.strict)
        return sides

    def check(self, strict: bool) -> None:
        """Refuse stored sides made with other checkpoints or preprocessing (or with skips, under ``strict``)."""
        checkpoints = {name: info["checkpoint_sha256"] for name, info in self.backbones.items()}
        precisions = {name: info.get("precision", "fp32") for name, info in self.backbones.items()}
        sides = [s for s in (self.gen_stored, self.ref_stored) if s is not None]
        for stored in [s for s in sides if isinstance(s, StoredClipSet) and strict and s.extraction.skipped]:
            first = stored.extraction.skipped[0]
            raise DataError(
                f"{stored.path}: {len(stored.extraction.skipped)} file(s) were skipped when it was "
                f"exported (first: {first['file']}: {first['reason']}); --strict refuses it"
            )
        for side in sides:
            if isinstance(side, ReferenceStats):  # --compat's FAD view never reads statistics (it needs the folder)
                fix = side.recompute_hint()
                current = {k: v for k, v in self.preprocessing.items() if k != "per_backbone"}
            else:
                fix = f"re-export it with `audiometric embed {side.meta['folder']} -o {side.path}`"
                current = self.preprocessing
            check_provenance(side.path, side.meta, checkpoints, current, f"{fix} using the same options", precisions)


def _result(
    settings: Settings,
    opts: ExtractionOptions,
    sides: Sides,
    gen: ClipSet,
    ref: ClipSet | None,
    values: dict,
    not_computed: dict,
    messages: list[str],
    size: int,
    timings: tuple[float, float, float],
) -> dict:
    """The JSON-able result of a score: values, what was not computed, and full provenance."""
    start, extracted, done = timings
    extractor = sides.extractor
    extractions = [gen.extraction] + ([ref.extraction] if ref else [])
    cache = extractor.cache if extractor else None
    reference = ref if ref is not None else sides.ref_stats
    assert reference is not None  # reference clips, else reference statistics
    return {
        "audiometric": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": values,
        "not_computed": not_computed,
        "warnings": messages,
        "generated": gen.summary(),
        "reference": reference.summary(),
        "backbones": sides.backbones,
        "preprocessing": sides.preprocessing,
        "settings": {**asdict(settings), "metrics": list(settings.metrics)},
        "seeds": {
            "inception_score_permutation": METRICS["is"].defaults["seed"],
            "bootstrap": settings.seed,
            "fd_inf": settings.seed,
        },
        "device": (
            str(extractor.resolved)
            if extractor and extractor.resolved is not None
            else f"{opts.device} (unused: every output was {'cached' if extractor else 'read from embedding files'})"
        ),
        "world_size": size,
        "batch_size": opts.batch_size,
        "cache": {
            "dir": str(cache.root) if cache and cache.root else None,
            "hits": sum(e.cache_hits for e in extractions),
            "misses": sum(e.cache_misses for e in extractions),
        },
        "timings_s": {
            "extraction": round(extracted - start, 3),
            "metrics": round(done - extracted, 3),
            "total": round(done - start, 3),
        },
        "versions": versions(),
    }
