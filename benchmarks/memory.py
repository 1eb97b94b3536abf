"""Peak memory of the decode path on one long file, measured side by side in child processes.

Writes one 30-minute 44.1 kHz stereo 16-bit WAV (318 MB; written block-wise), then runs, each in its own
child process so that each peak is its own (``getrusage`` ``ru_maxrss``):

- ``baseline``: the imports only (torch, numpy, soundfile, audiometric);
- ``whole``: the path before streaming: the file's bytes read and hashed at once, decoded whole to float32
  ``(channels, samples)``, channel 0 copied, DC removed, resampled to 16 kHz in one convolution;
- ``streamed``: what an extraction worker does now for a Cnn14 + VGGish run (:class:`audiometric.extraction.loading.Files`
  on one file): streamed hash, block-wise decode into the mono view, streamed resampling to 16 kHz;
- ``max10``: the same with ``--max-seconds 10`` (frames read are counted: only what is kept is read);
- ``compat``: ``--compat``'s two views (Cnn14's, and VGGish's audioldm_eval FAD input streamed through resampy).

Target: ``streamed`` peak <= 1 GB. Usage: ``python benchmarks/memory.py [--minutes 30] [--skip-whole]``.
Prints one table (peak RSS, increment over the baseline, seconds, frames read) and exits 1 if the target fails.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 44100  # Hz
TARGET_BYTES = 1 << 30  # 1 GiB peak RSS for one 30-min 44.1 kHz stereo file (issue 6, item 2.9)


def write_long_wav(path: Path, minutes: float) -> None:
    """A stereo PCM_16 WAV of ``minutes`` minutes of noise and tones, written 10 s at a time."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", RATE, 2, "PCM_16") as out:
        for start in range(0, int(minutes * 60 * RATE), 10 * RATE):
            t = (start + np.arange(10 * RATE)) / RATE
            tone = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * rng.standard_normal((t.size, 2))
            out.write(tone.astype(np.float32))


def child(mode: str, path: Path) -> dict:
    """Run one path in this (child) process; returns its peak RSS, seconds and frames read."""
    import numpy as np
    import soundfile as sf
    import torch

    from audiometric.audio.preprocess import Preprocess, compat_fad
    from audiometric.audio.resample import resample
    from audiometric.extraction.cache import EmbeddingCache
    from audiometric.extraction.extract import cache_settings
    from audiometric.extraction.loading import Files
    from audiometric.extraction.probe import CacheKey

    torch.set_num_threads(1)
    frames_read = [0]
    original = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        out = original(self, frames, *args, **kwargs)
        frames_read[0] += len(out)
        return out

    sf.SoundFile.read = counting
    start = time.perf_counter()
    if mode == "whole":
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        frames_read[0] = samples.shape[0]
        audio = np.ascontiguousarray(samples.T)
        mono = np.array(audio[0], dtype=np.float32)
        mono -= torch.from_numpy(mono).mean().item()
        wave = resample(torch.from_numpy(mono), rate, 16000, stream_blocks=1 << 62)  # one convolution
        samples_out = wave.shape[-1]
    elif mode != "baseline":
        pre = Preprocess(max_seconds=10.0) if mode == "max10" else Preprocess()
        names = {"panns-cnn14-16k": pre, "vggish": compat_fad(pre) if mode == "compat" else pre}
        keys = {n: CacheKey(None, cache_settings(_Rate16k(), v)) for n, v in names.items()}
        rates = {n: 16000 for n in names}
        dataset = Files(
            todo=[(0, path)],
            keys=keys,
            rates=rates,
            views=names,
            cache=EmbeddingCache(None),
            resample_here=True,
            allow_truncated=False,
        )
        item = dataset[0]
        assert not item.error, item.error
        samples_out = max(w.shape[-1] for w, _ in item.waves.values())
    else:
        samples_out = 0
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {
        "mode": mode,
        "peak_bytes": peak,
        "seconds": seconds,
        "frames_read": frames_read[0],
        "samples_out": int(samples_out),
    }


class _Rate16k:
    sample_rate = 16000
    min_samples = 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--skip-whole", action="store_true", help="Leave out the pre-streaming path (GBs).")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    modes = ["baseline"] + ([] if args.skip_whole else ["whole"]) + ["streamed", "max10", "compat"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        write_long_wav(path, args.minutes)
        print(
            f"file: {args.minutes:g} min, {RATE} Hz stereo PCM_16, {path.stat().st_size / 1e6:.0f} MB; "
            "each row a fresh child process (timings pessimistic on a shared machine)"
        )
        rows = {}
        for mode in modes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True, check=True
            )
            rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    base = rows["baseline"]["peak_bytes"]
    print(f"{'path':<10} {'peak RSS':>10} {'over imports':>13} {'seconds':>8} {'frames read':>12} {'16 kHz out':>11}")
    for mode, row in rows.items():
        print(
            f"{mode:<10} {row['peak_bytes'] / 1e6:>8.0f} MB {(row['peak_bytes'] - base) / 1e6:>10.0f} MB "
            f"{row['seconds']:>8.2f} {row['frames_read']:>12} {row['samples_out']:>11}"
        )
    ok = rows["streamed"]["peak_bytes"] <= TARGET_BYTES
    if "whole" in rows:
        print(f"whole / streamed peak: {rows['whole']['peak_bytes'] / rows['streamed']['peak_bytes']:.1f}x")
    verdict = "PASS" if ok else "FAIL"
    print(f"target: streamed peak <= {TARGET_BYTES / 2**30:.0f} GiB ({TARGET_BYTES / 1e6:.0f} MB) ... {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
