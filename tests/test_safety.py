"""Every command x every awkward path (issue 14): no traceback, a non-zero exit where nothing useful can be done,
and every file that existed before the command byte-identical after it.

The cases that must fail fail on the output policy or the input checks, before any model loads; only the
truncated-WAV case runs each command to the end (tiny AudioLDM, aiSFX on 3 s clips).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from conftest import tone_set, write_wav

pytest.importorskip("diffusers")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from audiometric.cli import main
from audiometric.ldm.tiny import write_tiny_pipeline
from audiometric.runtime.outputs import run_folder

FOLDER_OUTPUT = {"corrupt", "sweep", "export", "generate", "finetune"}
CASES = ["unwritable", "under_file", "inside_input", "other_run", "missing_input", "empty_input", "truncated"]


def _esc50(root: Path) -> Path:
    """meta/esc50.csv + audio/: one 1.28 s clip of each of two classes per fold (16 kHz)."""
    rows = [["filename", "fold", "target", "category", "esc10", "src_file", "take"]]
    for fold in range(1, 6):
        for target, category in enumerate(["rain", "crow"]):
            name = f"{fold}-{1000 + target}-A-{target}.wav"
            tone_set(root / "audio", 1, seconds=1.28, seed=10 * fold + target, prefix=name[:-4] + "#")
            (root / "audio" / f"{name[:-4]}#000.wav").rename(root / "audio" / name)
            rows.append([name, fold, target, category, False, 1000 + target, "A"])
    (root / "meta").mkdir()
    with open(root / "meta" / "esc50.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return root


def _truncate(path: Path) -> None:
    """Cut the data but keep the header: the header then promises more samples than the file holds."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("safety")
    tone_set(root / "audio", 4, rate=22050, seconds=3.0, seed=1)
    shutil.copytree(root / "audio", root / "audio_truncated")
    _truncate(root / "audio_truncated" / "clip001.wav")
    _esc50(root / "esc")
    shutil.copytree(root / "esc", root / "esc_truncated")
    for name in ("1-1000-A-0.wav", "5-1000-A-0.wav"):  # one clip of the train split, one of the test split
        _truncate(root / "esc_truncated" / "audio" / name)
    (root / "empty").mkdir()
    return {"root": root, "pipe": write_tiny_pipeline(root / "pipe", seed=0)}


def _argv(command: str, source: Path, out: Path, pipe: Path) -> list[str]:
    """The command line of ``command`` reading ``source`` (audio folder or ESC-50 copy) and writing ``out``."""
    extraction = ["--backbone", "aisfx", "--workers", "0", "--no-progress", "--device", "cpu"]
    esc = ["--dataset", "esc50", "--data-dir", str(source), "--duration", "1.28", "--no-progress"]
    return {
        "score": ["score", str(source), str(source), "--metrics", "fd", "--json", str(out), *extraction],
        "embed": ["embed", str(source), "-o", str(out), *extraction],
        "stats": ["stats", str(source), "-o", str(out), "--metrics", "fd", *extraction],
        "corrupt": ["corrupt", str(source), str(out), "-c", "gaussian_noise", "-s", "0.1", "--no-progress"],
        "sweep": ["sweep", "--corruption", "noise", "--ref", str(source), "--out", str(out), "--metrics", "fd"]
        + ["--levels", "0,0.1", "--seeds", "1", "--protocol", "paired", *extraction],
        "export": ["datasets", "export", *esc, "--out", str(out)],
        "generate": ["generate", "--model", str(pipe), *esc, "--out", str(out), "--steps", "2", "--device", "cpu"],
        "finetune": ["finetune", "--model", str(pipe), *esc[:-3], "--out", str(out), "--max-steps", "1"]
        + ["--batch-size", "2", "--eval-every", "0", "--warmup-steps", "0", "--duration", "1.28", "--no-progress"],
    }[command]


def _case(command: str, case: str, world: dict[str, Path], tmp: Path) -> tuple[Path, Path]:
    """(the input, the output path) of one case; files the case needs are made under ``tmp``."""
    root, dataset = world["root"], command in ("export", "generate", "finetune")
    source = root / ("esc" if dataset else "audio")
    name = "out" if command in FOLDER_OUTPUT else {"score": "out.json"}.get(command, "out.npz")
    if case == "unwritable":  # root writes into a chmod-ed folder, not into sysfs
        locked = tmp / "locked" if os.geteuid() != 0 else Path("/sys/audiometric-test")
        if os.geteuid() != 0:
            locked.mkdir()
            locked.chmod(0o500)
        return source, locked / name
    if case == "under_file":
        (tmp / "plain.txt").write_text("a user's notes\n")
        return source, tmp / "plain.txt" / name
    if case == "inside_input":
        return source, source / name
    if case == "other_run":
        if command not in FOLDER_OUTPUT:  # a file of another kind where the output goes
            sf.write(tmp / name, np.zeros(1600, np.float32), 16000, format="WAV")
            return source, tmp / name
        other = "generate" if command == "export" else "datasets export"
        run_folder(tmp / name, command=other, settings={"seed": 0}).claim()
        write_wav(tmp / name / "5-1000-A-0.wav", np.zeros(1600, np.float32), 16000)
        return source, tmp / name
    if case == "missing_input":
        return tmp / "nowhere", tmp / name
    if case == "empty_input":
        return root / "empty", tmp / name
    return root / ("esc_truncated" if dataset else "audio_truncated"), tmp / name


def _writable(folder: Path) -> bool:
    try:
        (folder / "audiometric-test").mkdir()
    except OSError:
        return False
    (folder / "audiometric-test").rmdir()
    return True


def _digests(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and os.access(p.parent, os.R_OK | os.X_OK)
    }


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["score", "embed", "stats", "corrupt", "sweep", "export", "generate", "finetune"])
def test_command_is_safe_with_awkward_paths(command, case, world, tmp_path):
    if case == "unwritable" and os.geteuid() == 0 and _writable(Path("/sys")):
        pytest.skip("no unwritable folder here (root, and /sys takes files)")
    source, out = _case(command, case, world, tmp_path)
    before = _digests(world["root"], tmp_path)
    res = CliRunner().invoke(main, _argv(command, source, out, world["pipe"]))
    assert res.exception is None or isinstance(res.exception, SystemExit), (res.output, res.exception)
    assert "Traceback" not in res.output
    if case != "truncated":  # the truncated file is skipped or refused; the others leave nothing to do
        assert res.exit_code != 0 and res.output.startswith("error: "), res.output
    after = _digests(world["root"], tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that existed was changed"
