"""``datasets export`` + ``generate`` end to end on tiny random AudioLDM/CLAP folders and a fake ESC-50."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from audiometric.cli import main
from audiometric.ldm import generate as gen_module
from audiometric.ldm.tiny import write_tiny_clap_audio, write_tiny_pipeline
from audiometric.runtime.outputs import STAMP

DURATION = "1.28"
FAST = ["--steps", "2", "--duration", DURATION, "--no-progress"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("models")
    pipe = write_tiny_pipeline(root / "pipe", seed=0)
    return {
        "pipe": pipe,
        "clap": write_tiny_clap_audio(root / "clap", seed=1, pipeline=pipe),
        "foreign": write_tiny_clap_audio(root / "foreign", seed=2),
    }


@pytest.fixture(scope="module")
def esc50(tmp_path_factory):
    """Fold 5 holds 4 clips (44.1 kHz stereo, 1.5 s), folds 1-4 one each."""
    root = tmp_path_factory.mktemp("esc50")
    rng = np.random.default_rng(0)
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for i, (fold, cat) in enumerate(
        [(5, "dog"), (5, "rain"), (5, "door_wood_knock"), (5, "dog"), (1, "dog"), (2, "rain"), (3, "dog"), (4, "rain")]
    ):
        name = f"{fold}-{1000 + i}-A-0.wav"
        lines.append(f"{name},{fold},0,{cat},False,{1000 + i},A")
        (root / "audio").mkdir(exist_ok=True)
        sf.write(root / "audio" / name, 0.3 * rng.standard_normal((int(1.5 * 44100), 2)), 44100, subtype="PCM_16")
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return root


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _generate(models, esc50, out, *extra):
    return cli(
        "generate", "--model", models["pipe"], "--dataset", "esc50", "--data-dir", esc50, "--out", out, *FAST, *extra
    )


def _wav(path: Path) -> np.ndarray:
    data, rate = sf.read(path, dtype="int16")
    assert rate == 16000 and sf.info(path).subtype == "PCM_16"
    return data


def test_generated_set_pairs_with_exported_reference(models, esc50, tmp_path):
    from conftest import ToyBackbone

    from audiometric.audio.preprocess import Preprocess
    from audiometric.extraction.cache import EmbeddingCache
    from audiometric.extraction.clipset import extract_folder
    from audiometric.extraction.extract import Extractor
    from audiometric.scoring.compute import Settings, compute

    ref, out = tmp_path / "ref", tmp_path / "gen"
    res = cli(
        "datasets",
        "export",
        "--dataset",
        "esc50",
        "--data-dir",
        esc50,
        "--out",
        ref,
        "--duration",
        DURATION,
        "--no-progress",
    )
    assert res.exit_code == 0, res.output
    res = _generate(models, esc50, out, "--batch-size", "3")
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == sorted(p.name for p in ref.glob("*.wav")) and len(names) == 4
    for name in names:
        assert _wav(out / name).shape == _wav(ref / name).shape == (int(1.28 * 16000),)
        assert np.abs(_wav(out / name)).max() > 100  # not silence
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["steps"] == 2 and manifest["settings"]["condition"] == "text"
    assert manifest["model_digest"] and manifest["attention"]["matches_original"] is False
    assert manifest["scheduler"]["class"] == "DDIMScheduler" and manifest["scheduler"]["beta_end"] == 0.0195
    assert manifest["dataset"] == "esc50" and manifest["split"] == "test"
    clip = manifest["clips"]["5-1002-A-0"]
    assert clip["prompt"] == "door wood knock" and len(clip["seeds"]) == 1
    assert {"diffusers", "transformers", "torch"} <= set(manifest["versions"])

    extractor = Extractor(
        backbones={"toy": ToyBackbone()},
        device=torch.device("cpu"),
        pre=Preprocess(),
        cache=EmbeddingCache(tmp_path / "c"),
        batch_size=4,
        workers=0,
        progress=False,
    )
    sets = [extract_folder(str(folder), extractor, strict=True) for folder in (out, ref)]  # records aren't skips
    for clip_set, record in zip(sets, ("manifest.json", "export.json")):
        summary = clip_set.summary()
        assert summary["skipped"] == [] and [Path(i["file"]).name for i in summary["ignored"]] == [STAMP, record]
    values, skipped = compute(Settings(metrics=("kl",), backbone="toy", fad_backbone="toy"), sets[0], sets[1], None)
    assert "kl" not in skipped and values["kl_softmax"]["n_pairs"] == 4


def test_same_seed_same_audio_at_batch_1_and_4_and_resume(models, esc50, tmp_path, monkeypatch):
    assert _generate(models, esc50, tmp_path / "b4", "--batch-size", "4").exit_code == 0
    calls = []
    real = gen_module.sample

    def interrupted(*args, **kwargs):
        calls.append(len(args[3]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gen_module, "sample", interrupted)
    res = _generate(models, esc50, tmp_path / "b1", "--batch-size", "1")
    assert res.exit_code == 130 and "resume" in res.output
    assert len(list((tmp_path / "b1").glob("*.wav"))) == 2
    assert len(json.loads((tmp_path / "b1" / "manifest.json").read_text())["clips"]) == 2
    calls.clear()
    monkeypatch.setattr(gen_module, "sample", real)
    assert _generate(models, esc50, tmp_path / "b1", "--batch-size", "1").exit_code == 0
    for name in sorted(p.name for p in (tmp_path / "b4").glob("*.wav")):
        a, b = _wav(tmp_path / "b4" / name).astype(int), _wav(tmp_path / "b1" / name).astype(int)
        assert np.abs(a - b).max() <= 1  # float rounding of batched kernels: at most one LSB
    res = _generate(models, esc50, tmp_path / "b1", "--steps", "3")
    assert res.exit_code == 2 and "with other settings: steps=2 (now 3)" in res.output
    res = _generate(models, esc50, tmp_path / "b1", "--eval-size", "2")
    assert res.exit_code == 2 and "eval_size=None (now 2)" in res.output and "--overwrite" in res.output


def test_audio_conditioning_and_candidates(models, esc50, tmp_path):
    res = _generate(models, esc50, tmp_path / "x", "--condition", "audio")
    assert res.exit_code == 2 and "need --clap" in res.output
    res = _generate(
        models,
        esc50,
        tmp_path / "audio",
        "--condition",
        "audio",
        "--clap",
        models["clap"],
        "--candidates",
        "2",
        "--eval-size",
        "2",
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "audio" / "manifest.json").read_text())
    assert manifest["clap"]["text_tower_agreement"] > 0.999
    for clip in manifest["clips"].values():
        assert len(clip["clap_scores"]) == 2 and clip["chosen"] == int(np.argmax(clip["clap_scores"]))
        assert len(set(clip["seeds"])) == 2 and clip["reference"].endswith(".wav")
    assert _generate(models, esc50, tmp_path / "text", "--eval-size", "2").exit_code == 0
    name = next(iter(manifest["clips"])) + ".wav"
    assert np.abs(_wav(tmp_path / "audio" / name).astype(int) - _wav(tmp_path / "text" / name)).max() > 10


def test_foreign_clap_warns(models, esc50, tmp_path):
    res = _generate(
        models, esc50, tmp_path / "f", "--condition", "audio", "--clap", models["foreign"], "--eval-size", "1"
    )
    assert res.exit_code == 0, res.output
    assert "not the CLAP" in res.output
    agreement = json.loads((tmp_path / "f" / "manifest.json").read_text())["clap"]["text_tower_agreement"]
    assert agreement < 0.9


def test_prompts_file_and_bad_inputs(models, esc50, tmp_path, monkeypatch):
    prompts = tmp_path / "p.csv"
    prompts.write_text("name,prompt\nbell,a bell rings\nhorn,a car horn\n")
    res = cli("generate", "--model", models["pipe"], "--prompts", prompts, "--out", tmp_path / "p", *FAST)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "p").glob("*.wav")) == ["bell.wav", "horn.wav"]
    # the head-layout note says what differs and what to do (issue 14 item 15)
    assert "attention heads per block" in res.stderr and "pass --original-attention" in res.stderr
    res = cli(
        "generate",
        "--model",
        models["pipe"],
        "--prompts",
        prompts,
        "--out",
        tmp_path / "o",
        "--original-attention",
        *FAST,
    )
    assert res.exit_code == 0, res.output
    assert "--original-attention" not in res.stderr
    layout = json.loads((tmp_path / "o" / "manifest.json").read_text())["attention"]
    assert layout["matches_original"] and layout["heads"] == layout["original_heads"]
    assert not json.loads((tmp_path / "p" / "manifest.json").read_text())["attention"]["matches_original"]
    res = cli(
        "generate",
        "--model",
        models["pipe"],
        "--prompts",
        prompts,
        "--out",
        tmp_path / "q",
        "--condition",
        "audio",
        "--clap",
        models["clap"],
        *FAST,
    )
    assert res.exit_code == 2 and "needs reference clips" in res.output
    res = cli(
        "generate",
        "--model",
        models["pipe"],
        "--prompts",
        prompts,
        "--dataset",
        "esc50",
        "--data-dir",
        esc50,
        "--out",
        tmp_path / "q",
        *FAST,
    )
    assert res.exit_code == 2 and "either --prompts or --dataset" in res.output
    res = _generate(models, esc50, tmp_path / "q", "--precision", "fp16", "--device", "cpu")
    assert res.exit_code == 2 and "fp16 needs a GPU" in res.output
    res = _generate(models, esc50, tmp_path / "q", "--eval-size", "9")
    assert res.exit_code == 2 and "has only 4 clips" in res.output
    res = cli("generate", "--model", tmp_path / "nowhere", "--prompts", prompts, "--out", tmp_path / "q", *FAST)
    assert res.exit_code == 2 and "no such folder" in res.output
    res = _generate(models, esc50, tmp_path / "q", "--clap", models["pipe"] / "text_encoder", "--condition", "audio")
    assert res.exit_code == 2 and "without a CLAP audio tower" in res.output

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(gen_module, "sample", lambda *a, **k: np.full((1, 20480), np.nan, np.float32))
    res = _generate(models, esc50, tmp_path / "nan", "--eval-size", "1")
    assert res.exit_code == 2 and "NaN/Inf audio" in res.output and not list((tmp_path / "nan").glob("*.wav"))
    monkeypatch.setattr(gen_module, "sample", oom)
    res = _generate(models, esc50, tmp_path / "q")
    assert res.exit_code == 2 and "lower --batch-size or use --precision fp16" in res.output
    assert res.output.count("\n") == 1


def test_datasets_check_and_list(esc50, tmp_path):
    res = cli("datasets", "--list")
    assert res.exit_code == 0 and "us8k" in res.output and "metadata/UrbanSound8K.csv" in res.output
    (esc50 / "audio" / "1-1004-A-0.wav").rename(tmp_path / "moved.wav")
    try:
        res = cli("datasets", "check", "--dataset", "esc50", "--data-dir", esc50)
    finally:
        (tmp_path / "moved.wav").rename(esc50 / "audio" / "1-1004-A-0.wav")
    assert res.exit_code == 0, res.output
    assert "train: 3 clips, 1 missing audio files" in res.output and "1-1004-A-0.wav" in res.output
    assert "test: 4 clips, 0 missing" in res.output and "dog 2" in res.output
    res = cli("datasets", "export", "--dataset", "esc50", "--data-dir", tmp_path, "--out", tmp_path / "r")
    assert res.exit_code == 2 and "esc50.csv not found" in res.output
    res = cli("datasets", "check", "--dataset", "esc50", "--data-dir", tmp_path)
    assert res.exit_code == 2 and "esc50.csv not found" in res.output


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_and_export_refuse_each_others_folders(models, esc50, tmp_path, monkeypatch):
    """Issue 14 item 1: neither command writes over (nor "resumes" over) the other's clips of the same names."""
    ref, gen = tmp_path / "ref", tmp_path / "gen"
    export = ("datasets", "export", "--dataset", "esc50", "--data-dir", esc50, "--duration", DURATION, "--no-progress")
    assert cli(*export, "--out", ref).exit_code == 0
    assert _generate(models, esc50, gen, "--eval-size", "2").exit_code == 0
    before = {folder: _tree(folder) for folder in (ref, gen)}
    monkeypatch.setattr(gen_module, "prepare", lambda *a, **k: pytest.fail("generate loaded a model"))
    res = _generate(models, esc50, ref)
    assert res.exit_code == 2 and "holds the output of `audiometric datasets export`" in res.output
    assert "--overwrite" in res.output and res.output.count("\n") == 1
    res = cli(*export, "--out", gen)
    assert res.exit_code == 2 and "holds the output of `audiometric generate`" in res.output
    assert {folder: _tree(folder) for folder in (ref, gen)} == before
    res = cli(*export, "--out", esc50 / "ref")  # item 2: never inside the folder it reads
    assert res.exit_code == 2 and "never writes where it reads" in res.output and not (esc50 / "ref").exists()


@pytest.mark.parametrize("device", ["cdua", "cuda:7" if torch.cuda.is_available() else "cuda"])
def test_generate_device_errors_are_one_line(models, esc50, tmp_path, device):
    """Issue 14 item 6: a typo or a missing GPU is the resolver's one-line error, before any model loads."""
    res = _generate(models, esc50, tmp_path / "d", "--device", device)
    assert (
        res.exit_code == 2
        and res.output.startswith("error: --device ")
        and device in res.output
        and "Traceback" not in res.output
    )
    assert res.output.count("\n") == 1 and not (tmp_path / "d").exists()


def test_unreadable_manifest_of_a_resumed_run_is_one_line(models, esc50, tmp_path):
    assert _generate(models, esc50, tmp_path / "g", "--eval-size", "1").exit_code == 0
    (tmp_path / "g" / "manifest.json").write_text("{ cut")
    res = _generate(models, esc50, tmp_path / "g", "--eval-size", "1")
    assert res.exit_code == 2 and res.output.startswith("error: unreadable manifest") and "--overwrite" in res.output
    assert (tmp_path / "g" / "manifest.json").read_text() == "{ cut"
