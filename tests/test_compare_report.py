"""``compare --report``: one self-contained page whose plots and audio players render in headless Chromium.

The rendering test needs Debian's ``chromium`` (``apt-get install -y chromium``) and is skipped without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest
import torch
from click.testing import CliRunner
from conftest import ToyBackbone, tone_set

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def report(monkeypatch, tmp_path):
    """A report comparing three toy systems (one noisier) against a reference."""
    import audiometric.scoring.pipeline as pipeline
    from audiometric.cli import main

    torch.set_num_threads(1)
    monkeypatch.setattr(pipeline, "load_models", lambda needs, device, *_: {n: ToyBackbone().eval() for n in needs})
    for name, seed, noise in (("a", 1, 0.1), ("b", 2, 0.5), ("c", 3, 0.1), ("ref", 4, 0.1)):
        tone_set(tmp_path / name, 8, seed=seed, noise=noise)
    path = tmp_path / "out" / "report.html"
    systems = [str(tmp_path / s) for s in "abc"]
    options = ["--ref", str(tmp_path / "ref"), "--metrics", "fd,kl", "--backbone", "aisfx", "--report", str(path)]
    result = CliRunner().invoke(main, ["compare", *systems, *options, "--workers", "0", "--no-progress"])
    assert result.exit_code == 0, result.output
    return path


def test_report_is_self_contained(report) -> None:
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)  # nothing fetched from the network
    assert text.count("<svg") == 3  # FD, KL softmax, KL sigmoid
    assert text.count('src="data:audio/wav;base64,') == 9  # three farthest clips per system


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_plots_and_players_render_in_chromium(report) -> None:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += ["--disable-component-update", "--no-first-run", "--virtual-time-budget=5000"]
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [CHROMIUM, *flags, f"--user-data-dir={profile}", "--dump-dom", report.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    rendered = re.search(r'data-rendered="plots=(\d+) players=(\d+)/(\d+)"', dom)
    assert rendered, dom[-500:]
    plots, ready, players = map(int, rendered.groups())
    assert plots == 3 and players == 9 and ready == players
