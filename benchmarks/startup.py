"""Whole-process benchmarks of the ``audiometric`` command, measured side by side in one run.

Rows (each with its target and PASS/FAIL):

1. ``audiometric --help`` wall seconds (median of 5 processes); ``corrupt --list`` alongside.
2. ``score --metrics fd,is,kl`` of 48 clips of 10.24 s (24 generated, 24 reference, 16 kHz 16-bit WAV) with
   random official-layout Cnn14 weights (``--checkpoint``), as a process: cold (empty embedding cache)
   vs warm (every clip cached), ratio of wall seconds.
3. The cold process against the machine FLOP floor: 48 x Cnn14 FLOPs / the best GEMM rate (benchmarks/run.py
   row 1) over the cold wall seconds.
4. The cold process against an audioldm_eval-style pipeline in a process of its own: clips read one by one
   in a 2-worker DataLoader, Cnn14 in the original operation order (conv, batch norm, ReLU per layer), batch 1,
   then FD as audioldm_eval computes it (scipy ``sqrtm``; IS/KL with our code). Ratio of wall seconds; the
   ratio without the pipeline's FD (our metric code on both sides) is printed too.

Cold runs come in two kinds: the first run ever (no remembered checkpoint digest, so the 327 MB checkpoint is
hashed) and a run on new clips with the digest remembered (what re-scoring a new generated set costs). Rows 2-4
use the second; the first is printed too. Usage: ``python benchmarks/startup.py [--clips N] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from run import FULL, CpuMeter, Row, busy_now, cpu_model, matmul_floor  # noqa: E402

RATE = 16000  # Hz: AudioLDM's output rate, what audioldm_eval scores
SECONDS = 10.24
TARGET_HELP = 0.5  # s
TARGET_WARM = 20.0  # cold / warm
TARGET_FLOOR = 0.60  # floor seconds / cold seconds
TARGET_PIPELINE = 2.5  # pipeline seconds / cold seconds


def write_sets(root: Path, clips: int) -> tuple[Path, Path]:
    """``clips // 2`` generated and as many reference clips (same names, so KL pairs them): tone + noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(RATE * SECONDS)) / RATE
    for side in ("gen", "ref"):
        (root / side).mkdir(parents=True)
        for i in range(clips // 2):
            audio = 0.4 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + 0.1 * rng.standard_normal(t.size)
            sf.write(root / side / f"clip{i:03d}.wav", audio.astype(np.float32), RATE, subtype="PCM_16")
    return root / "gen", root / "ref"


def write_checkpoint(path: Path) -> Path:
    """Random Cnn14 (16 kHz) weights in the official training-dict layout."""
    import torch

    from audiometric.backbones.panns import Cnn14At16k

    torch.manual_seed(0)
    torch.save({"model": Cnn14At16k().state_dict(), "iteration": 0}, path)
    return path


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, other processes' share of the cores meanwhile) of one process; raises on failure."""
    with CpuMeter() as meter:
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return meter.seconds, meter.other


def median_of(command: list[str], env: dict[str, str], runs: int = 5) -> tuple[float, float]:
    times = [timed(command, env) for _ in range(runs)]
    return statistics.median(t for t, _ in times), max(o for _, o in times)


def baseline(gen: str, ref: str, checkpoint: str, out: str) -> None:
    """The audioldm_eval-style pipeline (run in its own process by :func:`main`): batch 1, no caching."""
    import torch
    from torch.utils.data import DataLoader

    from audiometric.backbones.panns import Cnn14At16k
    from audiometric.metrics import frechet_from_features, inception_score, kl_softmax

    class Waves:
        def __init__(self, folder: str):
            self.files = sorted(Path(folder).glob("*.wav"))

        def __len__(self) -> int:
            return len(self.files)

        def __getitem__(self, i: int) -> torch.Tensor:
            audio, _ = sf.read(self.files[i], dtype="float32")
            audio = audio - audio.mean()
            return torch.from_numpy(np.pad(audio, (0, max(0, 32000 - audio.size))))

    model = Cnn14At16k()
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])
    model.eval()

    def forward(wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # the original operation order
        x = model.bn0(model.logmel(wav).transpose(1, 2)[..., None])[..., 0].transpose(1, 2)[:, None]
        for i, block in enumerate(model._blocks):
            x = block(x, pool=i < len(model._blocks) - 1)
        return model.head(x)

    outputs = {}
    with torch.no_grad():
        for side, folder in (("gen", gen), ("ref", ref)):
            rows = [forward(wav) for wav in DataLoader(Waves(folder), batch_size=1, num_workers=2)]
            outputs[side] = [torch.cat(parts).numpy().astype(np.float64) for parts in zip(*rows)]
    (g_emb, g_logits), (r_emb, r_logits) = outputs["gen"], outputs["ref"]
    start = time.perf_counter()
    result = {
        "fd": frechet_from_features(g_emb, r_emb),
        "is": inception_score(g_logits)[0],
        "kl_softmax": kl_softmax(g_logits, r_logits),
    }
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    result["fd_audioldm_eval"] = frechet_from_features(g_emb, r_emb, compat=True)  # scipy sqrtm, as audioldm_eval
    result["timings_s"] = {"our_metrics": ours_s, "audioldm_eval_fd": time.perf_counter() - start}
    Path(out).write_text(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=48, help="clips in all, half generated (default 48)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    parser.add_argument("--baseline", nargs=4, metavar=("GEN", "REF", "CKPT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clips < 20:
        parser.error("--clips must be at least 20 (IS needs 10 generated clips)")
    if args.baseline:
        baseline(*args.baseline)
        return 0

    import torch

    from audiometric.backbones.panns import CONFIGS, cnn14_flops

    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "load_average_start": os.getloadavg(),
        "busy_before_start": busy_now(),
    }
    rows: list[Row] = []
    py = [sys.executable]
    with tempfile.TemporaryDirectory(prefix="audiometric-startup-") as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AUDIOMETRIC_OFFLINE": "1",
            "AUDIOMETRIC_HOME": str(work / "home-help"),
        }
        help_s, help_other = median_of(py + ["-m", "audiometric", "--help"], env)
        list_s, _ = median_of(py + ["-m", "audiometric", "corrupt", "--list"], env)
        bare_s, _ = median_of(py + ["-c", "pass"], env)
        rows.append(
            Row(
                "1. audiometric --help",
                help_s,
                "s",
                None,
                help_other,
                {"corrupt_list_s": list_s, "python_bare_s": bare_s},
            )
        )

        gen, ref = write_sets(work, args.clips)
        checkpoint = write_checkpoint(work / "cnn14_random.pth")
        score = py + [
            "-m",
            "audiometric",
            "score",
            str(gen),
            str(ref),
            "--metrics",
            "fd,is,kl",
            "--no-progress",
            "--checkpoint",
            f"panns-cnn14-16k={checkpoint}",
        ]
        first_s, first_other = timed(
            score + ["--json", str(work / "first.json")], {**env, "AUDIOMETRIC_HOME": str(work / "home-first")}
        )
        (work / "home").mkdir()
        shutil.copy(work / "home-first" / "digests.json", work / "home" / "digests.json")
        env["AUDIOMETRIC_HOME"] = str(work / "home")
        cold_s, cold_other = timed(score + ["--json", str(work / "cold.json")], env)
        warm_s, warm_other = timed(score + ["--json", str(work / "warm.json")], env)
        base_s, base_other = timed(
            py + [__file__, "--baseline", str(gen), str(ref), str(checkpoint), str(work / "base.json")], env
        )
        floor = matmul_floor(FULL, torch.device("cpu"))

        cold, warm, first = (json.loads((work / f"{n}.json").read_text()) for n in ("cold", "warm", "first"))
        base = json.loads((work / "base.json").read_text())
        if warm["cache"]["misses"] or cold["cache"]["hits"]:
            raise RuntimeError(f"cache: cold {cold['cache']}, warm {warm['cache']}")
        values = {
            m: (cold["metrics"][m]["value"], warm["metrics"][m]["value"], base[m]) for m in ("fd", "is", "kl_softmax")
        }
        flops = args.clips * cnn14_flops(int(RATE * SECONDS), CONFIGS["panns-cnn14-16k"])
        floor_s = flops / (floor.value * 1e9)
        rows += [
            Row(
                "2. score cold / warm",
                cold_s / warm_s,
                "x",
                TARGET_WARM,
                max(cold_other, warm_other),
                {
                    "cold_s": cold_s,
                    "warm_s": warm_s,
                    "first_ever_s": first_s,
                    "first_ever_other": first_other,
                    "cold_timings": cold["timings_s"],
                    "warm_timings": warm["timings_s"],
                    "values": values,
                },
            ),
            Row(
                "3. cold score / FLOP floor",
                floor_s / cold_s * 100,
                "%",
                TARGET_FLOOR * 100,
                cold_other,
                {
                    "floor_gflops": floor.value,
                    "gflop": flops / 1e9,
                    "floor_s": floor_s,
                    "first_ever_pct": floor_s / first_s * 100,
                },
            ),
            Row(
                "4. batch-1 pipeline / cold",
                base_s / cold_s,
                "x",
                TARGET_PIPELINE,
                max(cold_other, base_other),
                {
                    "pipeline_s": base_s,
                    "pipeline_timings": base["timings_s"],
                    "fd_sqrtm": base["fd_audioldm_eval"],
                    "extraction_only": (base_s - base["timings_s"]["audioldm_eval_fd"]) / cold_s,
                },
            ),
        ]
    rows[0].target = TARGET_HELP
    report(info, rows, args.clips)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"info": info, "rows": [r.__dict__ | {"verdict": verdict(r)} for r in rows]}, indent=2, default=str
            )
        )
    return 1 if any(verdict(r) == "FAIL" for r in rows) else 0


def verdict(row: Row) -> str:
    """PASS/FAIL; row 1 (seconds) passes below its target, the ratio rows at or above theirs."""
    if row.name.startswith("1."):
        return "PASS" if row.value < row.target else "FAIL"
    return row.verdict


def report(info: dict, rows: list[Row], clips: int) -> None:
    """Header, table (row 1 passes when *below* its target), details."""
    load = ", ".join(f"{v:.2f}" for v in info["load_average_start"])
    print(f"audiometric start-up benchmarks: CPU {info['cpu']}, {info['cores']} cores, torch {info['torch']}")
    print(
        f"load average at start {load}; other processes' share of all cores just before the start "
        f"{info['busy_before_start']:.0%}, per row in the last column"
    )
    if max([info["busy_before_start"], *(r.other_cpu for r in rows)]) > 0.10:
        print("WARNING: the CPU was busy (other processes used > 10 % of the cores): numbers are pessimistic")
    print(f"\n{'row':<30} {'measured':>12} {'target':>10}  {'result':<6} {'other CPU':>9}")
    for r in rows:
        target = f"{'<' if r.name.startswith('1.') else '>='} {r.target:g}"
        print(f"{r.name:<30} {r.value:>9.3g} {r.unit:<2} {target:>10}  {verdict(r):<6} {r.other_cpu:>9.0%}")
    help_row, warm, floor, pipe = rows
    d = warm.details
    print(
        f"\nrow 1: corrupt --list {help_row.details['corrupt_list_s']:.3f} s, bare python "
        f"{help_row.details['python_bare_s']:.3f} s (medians of 5)"
    )
    print(
        f"row 2: {clips} clips x {SECONDS} s at {RATE} Hz; cold {d['cold_s']:.2f} s (digest remembered), first "
        f"run ever {d['first_ever_s']:.2f} s, warm {d['warm_s']:.3f} s; in-process timings cold "
        f"{d['cold_timings']}, warm {d['warm_timings']}"
    )
    print(
        "       values cold / warm / pipeline: "
        + ", ".join(f"{m} {c:.6g} / {w:.6g} / {b:.6g}" for m, (c, w, b) in d["values"].items())
    )
    f = floor.details
    print(
        f"row 3: {f['gflop']:.0f} GFLOP at the {f['floor_gflops']:.0f} GFLOP/s floor = {f['floor_s']:.2f} s; "
        f"first run ever {f['first_ever_pct']:.0f} % of the floor"
    )
    p = pipe.details
    print(
        f"row 4: audioldm_eval-style batch-1 pipeline {p['pipeline_s']:.2f} s, of which audioldm_eval's FD "
        f"(scipy sqrtm, FD {p['fd_sqrtm']:.6g}) {p['pipeline_timings']['audioldm_eval_fd']:.2f} s; without that FD "
        f"(our metric code on both sides) the ratio is {p['extraction_only']:.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
