"""clap_score in ``compare``: every system's clips pair with the captions by name, and the pair test is the
sign-flip test of per-name differences; a system with a clip lacking a caption is one line naming both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from conftest import tone_set

import audiometric
from audiometric.cli import main
from audiometric.errors import AudiometricError
from audiometric.metrics.significance import sign_flip_test
from audiometric.sweep import swap

transformers = pytest.importorskip("transformers")
from test_encoders import tiny_clap  # noqa: E402  (needs transformers)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

UNFUSED = {"sampling_rate": 48000, "return_tensors": "pt", "padding": "repeatpad", "truncation": "rand_trunc"}
CAPTIONS = ["a dog barks", "rain on a roof", "a car passes by", "birds sing", "a door slams", "wind"]
PERMUTATIONS = 199


@pytest.fixture(scope="module")
def clap(tmp_path_factory):
    return tiny_clap(tmp_path_factory.mktemp("clap"))


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Two systems of the same six names (48 kHz, CLAP's rate), a reference, and the captions CSV."""
    root = tmp_path_factory.mktemp("systems")
    gen = tone_set(root / "sys_a", 6, rate=48000, seconds=0.5, seed=1, noise=0.05)
    tone_set(root / "sys_b", 6, rate=48000, seconds=0.5, seed=2, noise=0.4)
    tone_set(root / "ref", 6, rate=48000, seconds=0.5, seed=3)
    rows = "".join(f"{p.name},{text}\n" for p, text in zip(gen, CAPTIONS))
    (root / "captions.csv").write_text("file,caption\n" + rows)
    return root


def _cosines(clap, folder) -> dict[str, float]:
    """Per clip name, the cosine of its audio features and its caption's text features (transformers alone)."""
    model = transformers.ClapModel.from_pretrained(clap).eval()
    features = transformers.ClapFeatureExtractor.from_pretrained(clap)
    files = sorted(folder.glob("*.wav"))
    with torch.no_grad():
        waves = [sf.read(p, dtype="float32")[0] for p in files]
        out = model.get_audio_features(**features([w - w.mean() for w in waves], **UNFUSED))
        audio = getattr(out, "pooler_output", out)
        tokens = transformers.AutoTokenizer.from_pretrained(clap)(CAPTIONS, padding=True, return_tensors="pt")
        text = model.get_text_features(**tokens)
        text = getattr(text, "pooler_output", text)
    cos = torch.nn.functional.cosine_similarity(audio, text, dim=-1)
    return {p.name: float(c) for p, c in zip(files, cos)}


def _compare(sets, clap, systems, **kw):
    return audiometric.compare(
        [sets / s for s in systems], sets / "ref", "clap_score", "aisfx", checkpoints={"clap-laion": clap},
        permutations=PERMUTATIONS, bootstrap=50, cache=False, workers=0, progress=False, **kw,
    )  # fmt: skip


def test_clap_score_pairs_by_name_with_a_sign_flip_test(sets, clap):
    result = _compare(sets, clap, ["sys_a", "sys_b"], prompts=sets / "captions.csv")
    entry = result["pairs"][0]["metrics"]["clap_score"]
    a, b = _cosines(clap, sets / "sys_a"), _cosines(clap, sets / "sys_b")
    assert entry["a"] == pytest.approx(np.mean(list(a.values())), abs=1e-5)
    assert entry["b"] == pytest.approx(np.mean(list(b.values())), abs=1e-5)
    d = [b[name] - a[name] for name in sorted(a)]  # per name: B's cosine minus A's
    assert entry["difference"] == pytest.approx(np.mean(d), abs=1e-5)
    assert entry["p_value"] == pytest.approx(sign_flip_test(d, PERMUTATIONS, 0, "two-sided"))
    assert "sign flips of 6 name-paired differences" in result["provenance"]["tests"]["clap_score"]
    assert result["provenance"]["captions"]["captions"] == 6
    assert result["ranking"]["clap_score"][0]["system"] == ("sys_b" if np.mean(d) > 0 else "sys_a")


def test_a_copy_of_a_system_and_a_stored_system(sets, clap, tmp_path):
    """A copy of system A is no different (Δ 0, p 1); an ``embed`` .npz system finds its captions by name."""
    shutil.copytree(sets / "sys_a", tmp_path / "copy")
    stored = tmp_path / "sys_a.npz"
    audiometric.embed(
        sets / "sys_a", stored, "clap-laion", checkpoints={"clap-laion": clap}, cache=False, workers=0, progress=False
    )
    result = audiometric.compare(
        [sets / "sys_a", tmp_path / "copy", stored], sets / "ref", "clap_score", "aisfx",
        checkpoints={"clap-laion": clap}, permutations=PERMUTATIONS, bootstrap=0, cache=False, workers=0,
        progress=False, prompts=sets / "captions.csv",
    )  # fmt: skip
    for pair in result["pairs"]:
        entry = pair["metrics"]["clap_score"]
        assert entry["difference"] == pytest.approx(0, abs=1e-6) and entry["p_value"] == 1.0, pair


def test_a_clip_without_a_caption_names_the_clip_the_system_and_the_file(sets, clap, tmp_path):
    system = tmp_path / "sys_c"
    shutil.copytree(sets / "sys_a", system)
    shutil.copy(system / "clip000.wav", system / "extra.wav")
    with pytest.raises(AudiometricError, match=r"no caption for generated clip 'extra.wav' of .*sys_c") as err:
        audiometric.compare(
            [sets / "sys_a", system], sets / "ref", "clap_score", "aisfx", checkpoints={"clap-laion": clap},
            prompts=sets / "captions.csv", cache=False, workers=0, progress=False,
        )  # fmt: skip
    assert str(sets / "captions.csv") in str(err.value) and "\n" not in str(err.value)
    run = CliRunner().invoke(
        main,
        ["compare", str(sets / "sys_a"), str(system), "--ref", str(sets / "ref"), "--metrics", "clap_score",
         "--prompts", str(sets / "captions.csv"), "--checkpoint", f"clap-laion={clap}", "--no-cache",
         "--no-progress", "--workers", "0"],
    )  # fmt: skip
    assert run.exit_code != 0 and "extra.wav" in run.output and "Traceback" not in run.output
    assert len(run.output.strip().splitlines()) == 1
    with pytest.raises(AudiometricError, match="needs each generated clip's caption"):
        _compare(sets, clap, ["sys_a", "sys_b"])


def _sweep(sets, clap, out, prompts, *more):
    args = ["sweep", "-c", "noise", "--ref", str(sets / "sys_a"), "--out", str(out), "--levels", "0,1",
            "--seeds", "1", "--metrics", "clap_score,clap_pair", "--prompts", str(prompts),
            "--checkpoint", f"clap-laion={clap}", "--no-cache", "--no-progress", "--workers", "0", *more]  # fmt: skip
    return CliRunner().invoke(main, args)


def _cells(out) -> dict[float, dict]:
    return {cell["level"]: cell for cell in map(json.loads, map(Path.read_text, (out / "cells").glob("*.json")))}


def test_sweep_pairs_each_cell_clip_with_its_caption_by_name(sets, clap, tmp_path, monkeypatch):
    monkeypatch.setattr(swap, "PERMUTATIONS", 19)
    run = _sweep(sets, clap, tmp_path / "out", sets / "captions.csv")
    assert run.exit_code == 0, run.output
    cosines, cells = _cosines(clap, sets / "sys_a"), _cells(tmp_path / "out")
    clean = cells[0]  # split protocol: half A, uncorrupted, named as in the reference
    expected = np.mean([cosines[name] for name in clean["generated"]])
    assert clean["metrics"]["clap_score"]["clap_score"]["value"] == pytest.approx(expected, abs=1e-5)
    # clap_pair pairs each corrupted clip with its own clean original: exactly 1 at level 0, below at level 1
    assert clean["metrics"]["clap_pair"]["clap_pair"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert cells[1]["metrics"]["clap_pair"]["clap_pair"]["value"] < 1 - 1e-4
    assert cells[1]["generated"] == clean["generated"]  # corrupted clips keep their names, so their captions
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["captions"]["captions"] == 6
    # other captions are another sweep: no cell is resumed
    other = tmp_path / "other.csv"
    other.write_text((sets / "captions.csv").read_text().replace("a dog barks", "a cat purrs"))
    again = _sweep(sets, clap, tmp_path / "out", other, "--overwrite")
    assert again.exit_code == 0, again.output
    assert "2 computed, 0 resumed" in again.output


def test_sweep_clip_without_caption_is_one_line_before_any_work(sets, clap, tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("\n".join((sets / "captions.csv").read_text().splitlines()[:-1]) + "\n")
    run = _sweep(sets, clap, tmp_path / "out", short)
    assert run.exit_code != 0 and "no caption for generated clip 'clip005.wav'" in run.output
    assert str(short) in run.output and len(run.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "cells").exists()
    bad = CliRunner().invoke(
        main, ["sweep", "-c", "noise", "--ref", str(sets / "sys_a"), "--out", str(tmp_path / "o"),
               "--metrics", "clap_score"],
    )  # fmt: skip
    assert bad.exit_code != 0 and "needs each generated clip's caption" in bad.output
