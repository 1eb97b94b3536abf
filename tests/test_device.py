"""``--device`` values this machine cannot serve are one-line errors naming the flag and the valid values."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from audiometric.cli import main
from audiometric.errors import AudiometricError
from audiometric.runtime.device import parse_device, resolve_device


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("auto", ("auto", None)),
        ("CPU", ("cpu", None)),
        ("cuda", ("cuda", None)),
        ("cuda:3", ("cuda", 3)),
        ("mps", ("mps", None)),
    ],
)
def test_spellings(spec, expected):
    assert parse_device(spec) == expected


@pytest.mark.parametrize("spec", ["tpu", "cpu:1", "cuda:x", "", "gpu"])
def test_unknown_spelling_names_flag_and_choices(spec):
    with pytest.raises(AudiometricError, match=r"--device .*auto, cpu, cuda, cuda:N or mps"):
        parse_device(spec)


def test_auto_and_cpu_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line():
    with pytest.raises(AudiometricError, match="--device cuda: no CUDA GPU") as err:
        resolve_device("cuda")
    assert "\n" not in str(err.value) and "--device cpu" in str(err.value)


def test_cuda_index_beyond_the_gpu_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(AudiometricError, match=r"--device cuda:7: this machine has 1 CUDA GPU\(s\), so use cuda:0 "):
        resolve_device("cuda:7")
    assert resolve_device("cuda:0") == torch.device("cuda", 0)


@pytest.mark.parametrize("spec", ["tpu", "cuda:7"])
def test_cli_prints_one_line_not_a_traceback(spec, tmp_path):
    (tmp_path / "a").mkdir()
    result = CliRunner().invoke(main, ["embed", str(tmp_path / "a"), "-o", str(tmp_path / "o.npz"), "--device", spec])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --device") and "Traceback" not in result.output
