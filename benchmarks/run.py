"""Speed benchmarks of audiometric, measured side by side in one run and printed as one table.

Rows (each with its target and PASS/FAIL):

1. Machine FLOP floor: the best float32 2048x2048 GEMM rate (torch, all threads; BLAS and oneDNN paths), GFLOP/s.
2. Extraction of panns-cnn14-16k (random weights; speed does not depend on weight values) over synthetic
   10 s clips written as 44.1 kHz WAV, so reading, hashing, decoding and resampling are included:
   clips/s, achieved GFLOP/s and its ratio to row 1; plus the bare model forward (no I/O), per batch size.
3. Cold vs warm embedding cache on the same files: seconds and ratio.
4. Fréchet distance at d=2048, N=4000: eigenvalue path vs the scipy ``sqrtm`` path, seconds, speed-up and
   the relative difference of the two values.

Usage: ``python benchmarks/run.py [--quick] [--device auto|cpu|cuda] [--json OUT]``. It benchmarks the
checkout it sits in (the repository root is put first on ``sys.path``). Speed targets live here, never in
timed unit tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.utils.mkldnn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric import backbones
from audiometric.audio.preprocess import Preprocess
from audiometric.backbones.panns import CONFIGS, Cnn14At16k, cnn14_flops
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.extract import Extractor
from audiometric.metrics.frechet import frechet_distance, frechet_distance_compat
from audiometric.runtime.device import resolve_device
from audiometric.runtime.malloc import retain_freed_memory

BACKBONE = "panns-cnn14-16k"
SOURCE_RATE = 44100  # Hz; not a multiple of 16 kHz, so the polyphase resampler does real work
CLIP_SECONDS = 10.0
WORKERS = 2  # the CLI's --workers default

TARGET_EXTRACTION = 0.60  # achieved / matmul GFLOP/s, CPU
TARGET_CACHE = 50.0  # cold seconds / warm seconds
TARGET_FRECHET = 6.0  # sqrtm seconds / eigenvalue seconds
BUSY = 0.10  # share of all cores used by other processes above which the run is flagged as pessimistic


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one benchmark mode."""

    matmul_n: int
    matmul_seconds: float  # minimum timed seconds per matmul trial
    clips: int
    batch_sizes: tuple[int, ...]
    forward_clips: int  # minimum clips timed per batch size in the bare forward sweep
    fd_dim: int
    fd_rows: int


QUICK = Sizes(matmul_n=2048, matmul_seconds=0.5, clips=4, batch_sizes=(1, 4), forward_clips=2, fd_dim=512, fd_rows=1000)
FULL = Sizes(
    matmul_n=2048, matmul_seconds=2.0, clips=64, batch_sizes=(1, 4, 8, 16), forward_clips=8, fd_dim=2048, fd_rows=4000
)


@dataclass
class Row:
    """One table row: ``value`` in ``unit``, compared with ``target`` (``None``: informational)."""

    name: str
    value: float
    unit: str
    target: float | None
    other_cpu: float  # fraction of all cores used by other processes while the row ran
    details: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or ``-`` when the row has no target on this device."""
        if self.target is None:
            return "-"
        return "PASS" if self.value >= self.target else "FAIL"


class CpuMeter:
    """Wall seconds and the share of all cores used by *other* processes during a block (Linux ``/proc/stat``).

    Other = (busy jiffies of the whole machine - CPU seconds of this process and its reaped children)
    / (wall seconds x cores). ``nan`` where ``/proc/stat`` is unreadable.
    """

    def __enter__(self) -> CpuMeter:
        self._busy, self._ours, self._wall = _machine_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        busy = _machine_busy_seconds() - self._busy
        ours = _own_cpu_seconds() - self._ours
        self.other = max(busy - ours, 0.0) / (self.seconds * (os.cpu_count() or 1))


def _machine_busy_seconds() -> float:
    """Non-idle CPU seconds of the machine since boot, summed over cores (``nan`` off Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_model() -> str:
    """CPU model name, family and model numbers from ``/proc/cpuinfo``, and the SIMD level torch uses."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name", platform.processor() or "unknown CPU")
    family = f", family {fields['cpu family']} model {fields.get('model', '?')}" if "cpu family" in fields else ""
    return f"{name}{family}, {torch.backends.cpu.get_cpu_capability()}"


def busy_now(seconds: float = 2.0) -> float:
    """Share of all cores other processes keep busy over ``seconds`` while this one sleeps (``nan`` off Linux)."""
    with CpuMeter() as meter:
        time.sleep(seconds)
    return meter.other


def _best_rate(fn: Callable[[], object], flops: float, min_seconds: float, device: torch.device) -> float:
    """GFLOP/s of ``fn`` (``flops`` per call): best of 3 trials, each repeating ``fn`` for >= ``min_seconds``."""
    for _ in range(2):
        fn()
    _sync(device)
    rates, reps = [], 1
    for _ in range(3):
        start, done = time.perf_counter(), 0
        while True:
            for _ in range(reps):
                fn()
            _sync(device)
            done += reps
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
            reps = max(reps, int(reps * min_seconds / max(elapsed, 1e-3) / 2) + 1)
        rates.append(flops * done / elapsed / 1e9)
    return max(rates)


def matmul_floor(sizes: Sizes, device: torch.device) -> Row:
    """The best float32 GEMM rate of the machine, ``n x n @ n x n`` (2 n^3 FLOPs), GFLOP/s.

    On CPU the same product also runs through oneDNN (the library behind Cnn14's convolutions), as a
    oneDNN inner product and as a 1x1 ``conv2d``, besides the BLAS behind ``torch.mm`` (MKL, which on AMD
    CPUs does not use its fastest kernels); the largest rate is the floor, so row 2 is never flattered.
    """
    n = sizes.matmul_n if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    paths: dict[str, Callable[[], object]] = {"torch.mm": lambda: a @ b}
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        linear = torch.nn.Linear(n, n, bias=False)
        with torch.no_grad():
            linear.weight.copy_(b.T)
        onednn_linear, onednn_a = torch.utils.mkldnn.to_mkldnn(linear), a.to_mkldnn()
        image, filters = a.reshape(1, n, n, 1).transpose(1, 2).contiguous(), b.T.contiguous().reshape(n, n, 1, 1)
        paths["oneDNN linear"] = lambda: onednn_linear(onednn_a)
        paths["oneDNN conv2d 1x1"] = lambda: torch.nn.functional.conv2d(image, filters)
    with CpuMeter() as meter, torch.inference_mode():
        rates = {label: _best_rate(fn, 2 * n**3, sizes.matmul_seconds, device) for label, fn in paths.items()}
    return Row("1. matmul FLOP floor", max(rates.values()), "GFLOP/s", None, meter.other, {"n": n, "paths": rates})


def write_clips(folder: Path, count: int) -> list[Path]:
    """``count`` 10 s 16-bit WAV files at 44.1 kHz: a random-pitch tone plus white noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(SOURCE_RATE * CLIP_SECONDS)) / SOURCE_RATE
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        audio = 0.4 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + 0.1 * rng.standard_normal(t.size)
        path = folder / f"clip{i:04d}.wav"
        sf.write(path, audio.astype(np.float32), SOURCE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def random_cnn14(folder: Path, device: torch.device) -> torch.nn.Module:
    """Cnn14 (16 kHz) through the real loader, from a randomly initialised checkpoint saved in ``folder``."""
    torch.manual_seed(0)
    path = folder / "cnn14_16k_random.pth"
    torch.save({"model": Cnn14At16k().state_dict()}, path)
    return backbones.load(BACKBONE, checkpoint=str(path), device=device)


def forward_rate(model: torch.nn.Module, batch: int, min_clips: int, device: torch.device) -> float:
    """Clips/s of the bare model forward on random 10 s waveforms: the best of the timed calls.

    One untimed call first for small batches (shape-specific kernel setup); for batches of 8 or more,
    two timed calls and the faster one (the first call then absorbs the setup).
    """
    samples = int(CLIP_SECONDS * model.sample_rate)
    wav = torch.randn(batch, samples, device=device) * 0.1
    calls = max(2, -(-min_clips // batch))
    times = []
    with torch.inference_mode():
        if batch < 8:
            model(wav)
        for _ in range(calls):
            _sync(device)
            start = time.perf_counter()
            model(wav)
            _sync(device)
            times.append(time.perf_counter() - start)
    return batch / min(times)


def extraction(sizes: Sizes, device: torch.device, work: Path, floor: Row) -> tuple[Row, Row]:
    """Row 2 (pipeline vs bare forward vs the matmul ``floor`` of row 1) and row 3 (cold vs warm cache)."""
    files = write_clips(work / "clips", sizes.clips)
    model = random_cnn14(work, device)
    flops = cnn14_flops(int(CLIP_SECONDS * model.sample_rate), CONFIGS[BACKBONE])
    per_batch: dict[int, dict[str, float]] = {}
    others: list[float] = []
    cold_run = None
    for batch in sizes.batch_sizes:
        with CpuMeter() as fwd:
            bare = forward_rate(model, batch, sizes.forward_clips, device)
        cache_root = work / f"cache-b{batch}"
        extractor = Extractor(
            backbones={BACKBONE: model},
            device=device,
            pre=Preprocess(),
            cache=EmbeddingCache(cache_root),
            batch_size=batch,
            workers=WORKERS,
            progress=False,
        )
        with CpuMeter() as pipe:
            result = extractor.run(files)
        others += [fwd.other, pipe.other]
        if result.cache_misses != len(files) or result.skipped:
            raise RuntimeError(f"batch {batch}: expected {len(files)} fresh extractions, got {result}")
        rate = len(files) / pipe.seconds
        per_batch[batch] = {
            "pipeline_clips_s": rate,
            "pipeline_gflops": rate * flops / 1e9,
            "forward_clips_s": bare,
            "forward_gflops": bare * flops / 1e9,
            "pipeline_over_forward": rate / bare,
            "seconds": pipe.seconds,
        }
        cold_run = (batch, extractor, result, pipe.seconds, pipe.other)
    best = max(per_batch, key=lambda b: per_batch[b]["pipeline_clips_s"])
    ratio = per_batch[best]["pipeline_gflops"] / floor.value
    row2 = Row(
        "2. Cnn14 extraction / floor",
        ratio * 100,
        "%",
        TARGET_EXTRACTION * 100 if device.type == "cpu" else None,
        max(others),
        {
            "flops_per_clip": flops,
            "multiply_adds_per_clip": flops // 2,
            "clips": len(files),
            "source_rate_hz": SOURCE_RATE,
            "clip_seconds": CLIP_SECONDS,
            "workers": WORKERS,
            "best_batch": best,
            "per_batch": per_batch,
            "floor_gflops": floor.value,
        },
    )

    batch, extractor, cold, cold_seconds, cold_other = cold_run
    with CpuMeter() as warm_meter:
        warm = Extractor(
            backbones={BACKBONE: model},
            device=device,
            pre=Preprocess(),
            cache=EmbeddingCache(extractor.cache.root),
            batch_size=batch,
            workers=WORKERS,
            progress=False,
        ).run(files)
    same = all(
        np.array_equal(a.outputs[BACKBONE][k], b.outputs[BACKBONE][k])
        for a, b in zip(cold.clips, warm.clips)
        for k in a.outputs[BACKBONE]
    )
    if warm.cache_hits != len(files) or warm.cache_misses or not same:
        raise RuntimeError(f"warm run: {warm.cache_hits} hits, {warm.cache_misses} misses, identical={same}")
    row3 = Row(
        "3. cache cold / warm",
        cold_seconds / warm_meter.seconds,
        "x",
        TARGET_CACHE,
        max(cold_other, warm_meter.other),
        {
            "clips": len(files),
            "batch": batch,
            "cold_seconds": cold_seconds,
            "warm_seconds": warm_meter.seconds,
            "warm_hits": warm.cache_hits,
            "identical_outputs": same,
        },
    )
    return row2, row3


def _timed(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    """(median seconds over ``repeats`` calls, value of the last call)."""
    times, value = [], float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), value


def frechet(sizes: Sizes) -> Row:
    """Row 4: both Fréchet paths on the same covariances of correlated Gaussian features."""
    d, n = sizes.fd_dim, sizes.fd_rows
    rng = np.random.default_rng(1)
    stats = []
    for shift in (0.0, 0.1):
        mixing = np.eye(d) + 0.5 * rng.standard_normal((d, d)) / np.sqrt(d)  # singular values ~[0.5, 1.5]
        rows = rng.standard_normal((n, d)) @ mixing + shift
        stats += [rows.mean(axis=0), np.cov(rows, rowvar=False)]
    with CpuMeter() as meter:
        ours_s, ours = _timed(lambda: frechet_distance(*stats, n1=n, n2=n), 3)
        scipy_s, ref = _timed(lambda: frechet_distance_compat(*stats), 1)
    return Row(
        "4. Frechet eigvalsh vs sqrtm",
        scipy_s / ours_s,
        "x",
        TARGET_FRECHET,
        meter.other,
        {
            "dim": d,
            "rows": n,
            "eigvalsh_seconds_median_of_3": ours_s,
            "sqrtm_seconds": scipy_s,
            "fd_eigvalsh": ours,
            "fd_sqrtm": ref,
            "relative_difference": abs(ours - ref) / abs(ref),
        },
    )


def header(device: torch.device, sizes: Sizes, quick: bool) -> dict:
    """Run context: date, machine, threads, load."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "device": str(device),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "load_average_start": os.getloadavg(),
        "busy_before_start": busy_now(),
        "sizes": asdict(sizes),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
    return info


def print_table(info: dict, rows: list[Row]) -> None:
    """The header lines, the table, and the per-row details."""
    load = ", ".join(f"{v:.2f}" for v in info["load_average_start"])
    print(f"audiometric benchmarks ({info['mode']}), {info['date']}")
    print(
        f"device {info['device']}{' (' + info['gpu'] + ')' if 'gpu' in info else ''}; CPU {info['cpu']}, "
        f"{info['cores']} cores; torch {info['torch']} with {info['torch_threads']} threads; "
        f"numpy {info['numpy']}"
    )
    print(
        f"load average at start {load} (1, 5, 15 min; lags); other processes' share of all cores just before "
        f"the start {info['busy_before_start']:.0%}, per row in the last column"
    )
    if "tf32" in info:
        print(f"TF32 allowed: matmul {info['tf32']['matmul']}, cuDNN convolutions {info['tf32']['cudnn']}")
    busy = max([info["busy_before_start"], *(r.other_cpu for r in rows)])
    if busy > BUSY or (np.isnan(busy) and info["load_average_start"][0] > 0.5):
        print(
            f"WARNING: the CPU was busy (other processes used {info['busy_before_start']:.0%} of all cores just "
            f"before the start and up to {max(r.other_cpu for r in rows):.0%} during a row): numbers are pessimistic"
        )
    if info["mode"] == "quick":
        print("quick mode: sizes are too small for the targets, so PASS/FAIL is indicative only (exit status 0)")
    print()
    print(f"{'row':<32} {'measured':>12} {'target':>10}  {'result':<6} {'other CPU':>9}")
    for r in rows:
        target = "-" if r.target is None else f">= {r.target:g}"
        print(f"{r.name:<32} {r.value:>9.3g} {r.unit:<2} {target:>10}  {r.verdict:<6} {r.other_cpu:>9.0%}")
    print()
    for r in rows:
        d = r.details
        if r.name.startswith("1."):
            print(
                f"row 1: {d['n']}x{d['n']} float32 GEMM, best of 3 trials per path: "
                f"{', '.join(f'{k} {g:.1f}' for k, g in d['paths'].items())} GFLOP/s"
            )
        elif r.name.startswith("2."):
            floor = d["floor_gflops"]
            print(
                f"row 2: {d['clips']} clips x {d['clip_seconds']:g} s at {d['source_rate_hz']} Hz -> 16 kHz, "
                f"{d['flops_per_clip'] / 1e9:.2f} GFLOP per clip ({d['multiply_adds_per_clip'] / 1e9:.2f} G "
                f"multiply-adds, 1 multiply-add = 2 FLOPs), {d['workers']} loader workers; best batch "
                f"{d['best_batch']}"
            )
            print(
                f"       {'batch':>5} {'pipeline clips/s':>17} {'GFLOP/s':>8} {'% floor':>8} "
                f"{'forward clips/s':>16} {'GFLOP/s':>8} {'% floor':>8} {'pipeline/forward':>17}"
            )
            for batch, v in d["per_batch"].items():
                print(
                    f"       {batch:>5} {v['pipeline_clips_s']:>17.3f} {v['pipeline_gflops']:>8.1f} "
                    f"{v['pipeline_gflops'] / floor:>8.0%} {v['forward_clips_s']:>16.3f} "
                    f"{v['forward_gflops']:>8.1f} {v['forward_gflops'] / floor:>8.0%} "
                    f"{v['pipeline_over_forward']:>17.0%}"
                )
        elif r.name.startswith("3."):
            print(
                f"row 3: {d['clips']} clips, batch {d['batch']}: cold {d['cold_seconds']:.2f} s (empty cache), "
                f"warm {d['warm_seconds']:.3f} s ({d['warm_hits']} hits, outputs identical: "
                f"{d['identical_outputs']})"
            )
        elif r.name.startswith("4."):
            print(
                f"row 4: d={d['dim']}, N={d['rows']}: eigvalsh path {d['eigvalsh_seconds_median_of_3']:.3f} s "
                f"(median of 3), scipy sqrtm path {d['sqrtm_seconds']:.2f} s; FD {d['fd_eigvalsh']:.6f} vs "
                f"{d['fd_sqrtm']:.6f}, relative difference {d['relative_difference']:.1e}"
            )


def main(argv: list[str] | None = None) -> int:
    """Run every row, print the table, optionally save JSON; exit status 1 if a target fails (full sizes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 1 min), a smoke test")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="leave glibc's allocator as it is (the CLI keeps freed memory; see audiometric/memory.py)",
    )
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    sizes = QUICK if args.quick else FULL
    retained = False if args.system_malloc else retain_freed_memory()  # what the audiometric CLI does
    info = header(device, sizes, args.quick)
    info["retain_freed_memory"] = retained
    print(f"allocator: freed memory {'retained, as in the CLI' if retained else 'returned to the OS (glibc default)'}")
    with tempfile.TemporaryDirectory(prefix="audiometric-bench-") as tmp:
        work = Path(tmp)
        os.environ["AUDIOMETRIC_HOME"] = str(work / "home")  # nothing touches the user's cache
        os.environ["AUDIOMETRIC_OFFLINE"] = "1"
        floor = matmul_floor(sizes, device)
        rows = [floor, *extraction(sizes, device, work, floor), frechet(sizes)]
    print_table(info, rows)
    if args.json:
        args.json.write_text(
            json.dumps({"info": info, "rows": [asdict(r) | {"verdict": r.verdict} for r in rows]}, indent=2)
        )
        print(f"\nsaved {args.json}")
    return 1 if not args.quick and any(r.verdict == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
