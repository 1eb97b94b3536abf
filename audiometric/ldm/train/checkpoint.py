"""Run checkpoints: ``RUN/checkpoint-{step}/`` written by ``accelerator.save_state``, atomically.

Every rank writes its part into ``RUN/.checkpoint-{step}.tmp/``; only when all succeeded does rank 0
rename it to ``checkpoint-{step}`` and then rewrite ``RUN/latest`` (one line, atomically). A crash or a
full disk mid-write leaves the temporary folder (removed on the next save) and ``latest`` on the previous
checkpoint. The newest ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch

from audiometric.errors import AudiometricError
from audiometric.runtime.atomic import atomic_write_text

_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of the complete checkpoints in ``run``, oldest first."""
    found = [(int(m.group(1)), p) for p in run.glob("checkpoint-*") if (m := _NAME.match(p.name)) and p.is_dir()]
    return sorted(found)


def latest(run: Path) -> Path | None:
    """The checkpoint ``RUN/latest`` names, or None when the run has none."""
    pointer = run / "latest"
    if not pointer.is_file():
        return None
    folder = run / pointer.read_text().strip()
    return folder if folder.is_dir() else None


def resolve(run: Path, spec: str) -> Path:
    """``--resume latest`` or ``--resume PATH`` as a checkpoint folder, with a one-line error if absent."""
    folder = latest(run) if spec == "latest" else Path(spec)
    if folder is None:
        raise AudiometricError(f"--resume latest: {run} has no checkpoint yet; start the run without --resume")
    if not (folder / "training_state.json").is_file():
        raise AudiometricError(f"--resume {spec}: {folder} is not a complete checkpoint of this runner")
    return folder


def save(accelerator, run: Path, step: int, keep: int, state_json: str) -> Path:
    """Write ``RUN/checkpoint-{step}`` from every rank, point ``latest`` at it, prune to ``keep``."""
    final = run / f"checkpoint-{step}"
    if (final / "training_state.json").is_file():  # this very state is already saved (steps are deterministic)
        return final
    tmp = run / f".checkpoint-{step}.tmp"
    if accelerator.is_main_process:
        for stale in run.glob(".checkpoint-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    error = ""
    try:
        accelerator.save_state(str(tmp))
        if accelerator.is_main_process:
            atomic_write_text(tmp / "training_state.json", state_json)
    except OSError as err:
        error = err.strerror or str(err)
    failed = accelerator.reduce(torch.tensor([float(bool(error))], device=accelerator.device), "sum").item()
    if failed:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        previous = latest(run)
        kept = f"{previous} is still the latest checkpoint" if previous else "no earlier checkpoint exists"
        raise AudiometricError(
            f"saving checkpoint {final} failed ({error or 'on another rank'}); {kept}; "
            "free disk space and rerun with --resume latest"
        )
    if accelerator.is_main_process:
        if final.exists():  # an incomplete folder of that name (no training_state.json): never `latest`
            shutil.rmtree(final)
        tmp.rename(final)
        atomic_write_text(run / "latest", final.name + "\n")
        for _, old in checkpoints(run)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final
