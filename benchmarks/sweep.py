"""Cost of a sensitivity sweep, measured side by side in one run and printed as one table.

Rows:

1. Backbone clip passes of a waveform-noise sweep (``audiometric sweep``) against the naive count
   (one ``audiometric score`` per cell without a cache: corrupted set + reference set embedded every
   cell), counted twice: by the sweep's cache-miss counters and by a forward hook on the backbone
   (rows that actually went through it).
2. Wall time of the cold sweep against a rerun of the finished sweep (every cell resumed from OUT_DIR,
   nothing recomputed) and against a fresh OUT_DIR with a warm embedding cache (cells rescored only).

Clips: the bundled example's generator (``examples/make_example.py``, 4 s synthetic sound events),
``--clips`` of them. Backbone: ``aisfx`` (trained, offline) unless ``--backbone``.
Usage: ``python benchmarks/sweep.py [--quick] [--clips N] [--backbone NAME] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audiometric.backbones.base import Backbone  # noqa: E402
from audiometric.scoring.pipeline import ExtractionOptions  # noqa: E402
from audiometric.sweep import make_spec, run_sweep  # noqa: E402


def write_clips(folder: Path, count: int) -> None:
    """``count`` clips from the example generator's four classes (distinct seeds)."""
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(module.RATE * module.SECONDS)) / module.RATE
    for i in range(count):
        label, synth = list(module.CLASSES.items())[i % len(module.CLASSES)]
        rng = np.random.default_rng([i, 99])
        audio = synth(rng, t, 0.0) + 0.01 * rng.standard_normal(t.size)
        sf.write(
            folder / f"{label}_{i:03d}.wav",
            (0.7 * audio / np.abs(audio).max()).astype(np.float32),
            module.RATE,
            subtype="PCM_16",
        )


def timed(spec, opts) -> tuple[float, dict]:
    start = time.perf_counter()
    counters = run_sweep(spec, opts)
    return time.perf_counter() - start, counters


def main() -> None:
    parser = argparse.ArgumentParser(description="sweep cost benchmark")
    parser.add_argument("--quick", action="store_true", help="12 clips, 3 levels, 2 seeds (smoke test)")
    parser.add_argument("--clips", type=int, default=None)
    parser.add_argument("--backbone", default="aisfx")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    clips = args.clips or (12 if args.quick else 40)
    levels = "0,0.1,1" if args.quick else "0,0.01,0.03,0.1,0.3,1"
    seeds = 2 if args.quick else 3
    rows_seen = [0]

    def count(module, inputs, output):
        if isinstance(module, Backbone):
            rows_seen[0] += int(inputs[0].shape[0])

    hook = torch.nn.modules.module.register_module_forward_hook(count)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUDIOMETRIC_HOME"] = str(Path(tmp) / "home")
        write_clips(Path(tmp) / "ref", clips)
        opts = ExtractionOptions(device=args.device, progress=False)

        def spec(out: str):
            return make_spec(
                {
                    "corruption": "noise",
                    "ref": f"{tmp}/ref",
                    "out": f"{tmp}/{out}",
                    "levels": levels,
                    "seeds": seeds,
                    "metrics": "fd,kad",
                    "backbone": args.backbone,
                }
            )

        cold_s, cold = timed(spec("out"), opts)
        forwards = rows_seen[0]
        resumed_s, resumed = timed(spec("out"), opts)
        warm_s, warm = timed(spec("out2"), opts)
    hook.remove()
    n_levels = len(levels.split(","))
    gen, ref = clips // 2, clips - clips // 2
    naive = n_levels * seeds * (gen + ref)
    passes = cold["reference_backbone_passes"] + cold["cell_backbone_passes"]
    bound = (n_levels * seeds + 1) * clips
    print(
        f"sweep benchmark: {clips} clips of 4 s, levels {levels}, {seeds} seeds, protocol split, "
        f"backbone {args.backbone}, device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'row':<52}{'value':>12}{'ratio':>10}")
    print(f"{'1. naive clip passes (score per cell, no cache)':<52}{naive:>12}")
    print(f"{'   sweep clip passes (cache-miss counters)':<52}{passes:>12}{naive / passes:>9.2f}x")
    print(f"{'   sweep clip passes (forward hook, rows)':<52}{forwards:>12}{naive / max(forwards, 1):>9.2f}x")
    print(f"{'   bound (levels x seeds + 1) x N':<52}{bound:>12}")
    print(f"{'2. cold sweep wall time (s)':<52}{cold_s:>12.2f}")
    print(
        f"{'   finished sweep rerun (s), cells resumed: ' + str(resumed['cells_resumed']):<52}"
        f"{resumed_s:>12.2f}{cold_s / resumed_s:>9.1f}x"
    )
    print(
        f"{'   new OUT_DIR, warm cache (s), backbone passes: ' + str(warm['cell_backbone_passes']):<52}"
        f"{warm_s:>12.2f}{cold_s / warm_s:>9.1f}x"
    )
    assert resumed["cells_computed"] == 0 and passes <= bound and forwards == passes


if __name__ == "__main__":
    main()
