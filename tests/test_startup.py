"""Start-up stays light: ``--help`` and ``corrupt --list`` import no torch, and a fully cached ``score``
neither imports torch nor builds a backbone (times are benchmarks/startup.py's business, not a test's)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import tone_set

from audiometric import backbones
from audiometric.extraction.clipset import extract_folder
from audiometric.scoring.pipeline import ExtractionOptions, make_extractor

_PROBE = """import sys
from audiometric.cli import main
try:
    main(sys.argv[1:], prog_name="audiometric")
except SystemExit as exit:
    status = exit.code or 0
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
sys.exit(status)
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [["--help"], ["score", "--help"], ["corrupt", "--list"], ["--version"]])
def test_light_commands_do_not_import_torch(args):
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "torch imported: False" in proc.stderr


def test_help_lists_every_command_with_its_summary():
    from audiometric.cli import COMMANDS

    proc = _cli("--help")
    for name in COMMANDS:
        assert any(line.split()[:1] == [name] and len(line.split()) > 1 for line in proc.stdout.splitlines()), name


def test_warm_score_imports_no_torch_and_matches_the_cold_run(tmp_path):
    tone_set(tmp_path / "gen", 3, rate=22050, seconds=1.0, seed=1)
    tone_set(tmp_path / "ref", 3, rate=22050, seconds=1.0, seed=2)
    args = [
        "score",
        str(tmp_path / "gen"),
        str(tmp_path / "ref"),
        "--metrics",
        "fd",
        "--backbone",
        "aisfx",
        "--workers",
        "0",
        "--no-progress",
    ]
    cold = _cli(*args, "--json", str(tmp_path / "cold.json"))
    warm = _cli(*args, "--json", str(tmp_path / "warm.json"))
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    assert "torch imported: True" in cold.stderr and "torch imported: False" in warm.stderr
    a, b = (json.loads((tmp_path / f"{run}.json").read_text()) for run in ("cold", "warm"))
    assert b["cache"]["misses"] == 0 and b["cache"]["hits"] == 6 and a["cache"]["misses"] == 6
    assert a["metrics"]["fd"]["value"] == b["metrics"]["fd"]["value"]
    assert a["versions"]["torch"] == b["versions"]["torch"]
    from audiometric.runtime.device import resolve_device

    assert a["device"] == str(resolve_device("auto")) and b["device"] == "auto (unused: every output was cached)"


def test_backbone_is_built_only_when_a_clip_misses_the_cache(tmp_path):
    tone_set(tmp_path / "set", 2, rate=22050, seconds=1.0)
    tone_set(tmp_path / "more", 1, rate=22050, seconds=1.0, seed=5)
    opts = ExtractionOptions(device="cpu", workers=0, progress=False)
    first = make_extractor({"aisfx": {"embedding"}}, opts)
    assert first.backbones["aisfx"].model is None and first.resolved is None
    extract_folder(str(tmp_path / "set"), first)
    assert first.backbones["aisfx"].model is not None
    warm = make_extractor({"aisfx": {"embedding"}}, opts)
    assert extract_folder(str(tmp_path / "set"), warm).extraction.cache_hits == 2
    assert warm.backbones["aisfx"].model is None and warm.resolved is None
    extract_folder(str(tmp_path / "more"), warm)  # one miss: built now
    assert warm.backbones["aisfx"].model is not None and str(warm.resolved) == "cpu"


@pytest.mark.parametrize("name", backbones.available())
def test_registry_spec_matches_the_class(name):
    """The torch-free registry line states the class attributes the cache keys are made of."""
    import importlib

    spec = backbones.spec(name)
    module = importlib.import_module(f"audiometric.backbones.{spec.loader.split(':')[0]}")
    classes = [c for c in vars(module).values() if isinstance(c, type) and getattr(c, "name", None) == name]
    assert len(classes) == 1
    cls = classes[0]
    assert (cls.sample_rate, cls.min_samples, tuple(cls.outputs)) == (spec.sample_rate, spec.min_samples, spec.outputs)


def test_checkpoint_error_while_building_in_the_background_is_one_line(tmp_path):
    """The network loads in a thread while clips decode; its WeightsError still reaches the user as one line."""
    import torch
    from click.testing import CliRunner

    from audiometric.cli import main

    bad = tmp_path / "not_cnn14.pth"
    torch.save([torch.zeros(2)], bad)
    tone_set(tmp_path / "set", 2, seconds=0.5)
    result = CliRunner().invoke(
        main,
        [
            "embed",
            str(tmp_path / "set"),
            "-o",
            str(tmp_path / "o.npz"),
            "--no-progress",
            "--workers",
            "1",
            "--checkpoint",
            f"panns-cnn14-16k={bad}",
        ],
    )
    assert result.exit_code == 2 and result.output.startswith("error: ") and "not a Cnn14 checkpoint" in result.output
    assert len(result.output.strip().splitlines()) == 1
