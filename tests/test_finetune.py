"""The fine-tuning runner end to end on tiny random AudioLDM/CLAP folders of the real classes and tiny fake
UrbanSound8K / ESC-50 layouts (~1.28 s clips): what trains and what stays frozen, resume, signals, NaN,
bad input, periodic evaluation, the final pipeline, and 2-process DDP through accelerate."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("diffusers")  # the `ldm` extra
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from click.testing import CliRunner
from conftest import ToyBackbone, write_wav
from safetensors.torch import load_file

from audiometric.cli import main
from audiometric.errors import AudiometricError
from audiometric.ldm.tiny import write_tiny_clap_audio, write_tiny_pipeline
from audiometric.ldm.train import (
    TrainConfig,
    TrainingInterrupted,
    loop,
    train,
)

torch.set_num_threads(1)
CLASSES = ["dog_bark", "siren", "jackhammer"]


def _tone(path: Path, seconds: float, seed: int, rate: int = 22050) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t) + 0.05 * rng.standard_normal(t.size)
    write_wav(path, wave.astype(np.float32), rate)


def fake_us8k(root: Path, per_fold: int = 1) -> Path:
    """metadata/UrbanSound8K.csv + audio/fold1..10: 1.28 s clips (one 0.9 s, one 2 s to pad and crop)."""
    rows = []
    for fold in range(1, 11):
        for i in range(per_fold):
            name = f"{100 + fold}-{i}-0-0.wav"
            seconds = {1: 0.9, 2: 2.0}.get(fold, 1.28)
            _tone(root / "audio" / f"fold{fold}" / name, seconds, 10 * fold + i)
            cls = (fold + i) % len(CLASSES)
            rows.append([name, 100 + fold, 0, seconds, 1, fold, cls, CLASSES[cls]])
    (root / "metadata").mkdir(parents=True)
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        writer.writerows(rows)
    return root


def fake_esc50(root: Path) -> Path:
    """meta/esc50.csv + audio/: one 1.28 s clip per fold and two classes."""
    rows = []
    for fold in range(1, 6):
        for target, category in enumerate(["rain", "crow"]):
            name = f"{fold}-{1000 + target}-A-{target}.wav"
            _tone(root / "audio" / name, 1.28, 100 + 2 * fold + target, rate=44100)
            rows.append([name, fold, target, category, False, 1000 + target, "A"])
    (root / "meta").mkdir(parents=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    return {
        "pipe": write_tiny_pipeline(root / "pipe"),
        "clap": write_tiny_clap_audio(root / "clap"),
        "us8k": fake_us8k(root / "us8k"),
        "esc50": fake_esc50(root / "esc50"),
    }


def config(assets, out, **kw) -> TrainConfig:
    base = dict(
        dataset="us8k",
        data_dir=str(assets["us8k"]),
        model=str(assets["pipe"]),
        out=str(out),
        duration=1.28,
        batch_size=2,
        max_steps=3,
        warmup_steps=2,
        lr=1e-3,
        eval_every=0,
        checkpoint_every=2,
        progress=False,
    )
    return TrainConfig(**{**base, **kw})


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def state_dicts(folder: Path, name: str) -> dict[str, torch.Tensor]:
    files = sorted((folder / name).glob("*.safetensors"))
    assert files, f"no weights in {folder / name}"
    return {k: v for f in files for k, v in load_file(str(f)).items()}


def test_text_conditioning_trains_only_the_unet(assets, tmp_path):
    summary = train(config(assets, tmp_path / "run"))
    run = tmp_path / "run"
    rows = list(csv.DictReader(open(run / "train.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(np.isfinite(float(r["loss"])) and float(r["grad_norm"]) > 0 for r in rows)
    assert [float(r["lr"]) for r in rows] == pytest.approx([5e-4, 1e-3, 1e-3])  # warm-up, then constant
    before = state_dicts(assets["pipe"], "unet")
    after = weights(run / "checkpoint-3")
    assert set(after) == set(before)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged  # every U-Net tensor moved
    for name in ("vae", "text_encoder", "vocoder"):  # frozen: bit-identical in RUN/final
        a, b = state_dicts(assets["pipe"], name), state_dicts(run / "final", name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    final_unet = state_dicts(run / "final", "unet")  # the EMA weights, not the last training weights
    assert any(not torch.equal(final_unet[k], after[k]) for k in after)
    assert summary["clips"] == 9 and summary["cache_misses"] == 9 and len(summary["rank_weight_digests"]) == 1
    if importlib.util.find_spec("tensorboard") is not None:  # the optional `tensorboard` extra
        assert any((run / "tensorboard").iterdir())
    assert [p.name for p in sorted(run.glob("checkpoint-*"))] == ["checkpoint-2", "checkpoint-3"]
    assert (run / "latest").read_text().strip() == "checkpoint-3"
    # the frozen encoders cost nothing the second time: every clip's latents and CLAP vector are cached
    again = train(config(assets, tmp_path / "again", max_steps=1))
    assert again["cache_hits"] == 9 and again["cache_misses"] == 0


def test_audio_conditioning_on_esc50(assets, tmp_path, monkeypatch):
    seen = {}
    real_load = loop._load

    def load(cfg, device):  # keep the CLAP audio tower the run uses, and its weights before training
        components, tower = real_load(cfg, device)
        seen["tower"], seen["before"] = tower, {k: v.clone() for k, v in tower.model.state_dict().items()}
        return components, tower

    monkeypatch.setattr(loop, "_load", load)
    summary = train(
        config(
            assets,
            tmp_path / "run",
            dataset="esc50",
            data_dir=str(assets["esc50"]),
            condition="audio",
            clap=str(assets["clap"]),
            max_steps=2,
        )
    )
    run = tmp_path / "run"
    rows = list(csv.DictReader(open(run / "train.csv")))
    assert summary["clips"] == 8 and len(rows) == 2 and all(np.isfinite(float(r["loss"])) for r in rows)
    before, after = state_dicts(assets["pipe"], "unet"), weights(run / "checkpoint-2")
    assert all(not torch.equal(before[k], after[k]) for k in before)
    for name in ("vae", "text_encoder", "vocoder"):
        a, b = state_dicts(assets["pipe"], name), state_dicts(run / "final", name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    tower = seen["tower"].model
    assert not tower.training and not any(p.requires_grad for p in tower.parameters())
    assert all(torch.equal(v, seen["before"][k]) for k, v in tower.state_dict().items())  # CLAP audio frozen
    with pytest.raises(AudiometricError, match="needs --clap"):
        train(config(assets, tmp_path / "no-clap", condition="audio"))


def test_from_scratch_reinitialises_seeded(assets):
    pre, _ = loop._load(config(assets, "x"), torch.device("cpu"))
    a, _ = loop._load(config(assets, "x", from_scratch=True, seed=1), torch.device("cpu"))
    b, _ = loop._load(config(assets, "x", from_scratch=True, seed=1), torch.device("cpu"))
    c, _ = loop._load(config(assets, "x", from_scratch=True, seed=2), torch.device("cpu"))
    sa, sb, sc, sp = (m.unet.state_dict() for m in (a, b, c, pre))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].numel() > 8)
    assert any(not torch.equal(sa[k], sp[k]) for k in sa if sa[k].numel() > 8)


def _kill_after(monkeypatch, step: int, sig: int) -> None:
    """Deliver ``sig`` to this process once ``step`` has been logged (i.e. mid-run, between steps)."""
    original = loop.CsvLog.append

    def append(self, row):
        original(self, row)
        if row.get("step") == step:
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(loop.CsvLog, "append", append)


def test_interrupt_saves_and_resume_is_bit_identical(assets, tmp_path, monkeypatch):
    kw = dict(max_steps=4, grad_accum=2, checkpoint_every=3, keep_checkpoints=5)
    train(config(assets, tmp_path / "straight", **kw))
    with monkeypatch.context() as patch:
        _kill_after(patch, 2, signal.SIGINT)
        with pytest.raises(TrainingInterrupted, match="interrupted at step 2.*--resume latest"):
            train(config(assets, tmp_path / "split", **kw))
    split = tmp_path / "split"
    assert (split / "latest").read_text().strip() == "checkpoint-2" and not (split / "final").exists()
    with pytest.raises(AudiometricError, match="already holds checkpoints.*--resume latest"):
        train(config(assets, split, **kw))
    with pytest.raises(AudiometricError, match=r"other settings \(lr: 0.001 -> 0.002\).*--force"):
        train(config(assets, split, resume="latest", **{**kw, "lr": 2e-3}))
    train(config(assets, split, resume="latest", **kw))
    for step in (3, 4):
        a, b = weights(tmp_path / "straight" / f"checkpoint-{step}"), weights(split / f"checkpoint-{step}")
        assert all(torch.equal(a[k], b[k]) for k in a)  # 2 + save + load + 2 == 4 straight, to 0.0
    ema_a = torch.load(tmp_path / "straight" / "checkpoint-4" / "custom_checkpoint_1.pkl", weights_only=False)
    ema_b = torch.load(split / "checkpoint-4" / "custom_checkpoint_1.pkl", weights_only=False)
    assert ema_a["num_updates"] == ema_b["num_updates"] == 4
    assert all(torch.equal(x, y) for x, y in zip(ema_a["shadow"], ema_b["shadow"]))
    losses = lambda run: [r["loss"] for r in csv.DictReader(open(run / "train.csv"))]  # noqa: E731
    assert losses(split) == losses(tmp_path / "straight") and len(losses(split)) == 4


def test_sigterm_saves_a_checkpoint(assets, tmp_path, monkeypatch):
    _kill_after(monkeypatch, 1, signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="step 1"):
        train(config(assets, tmp_path / "run", checkpoint_every=100))
    assert (tmp_path / "run" / "latest").read_text().strip() == "checkpoint-1"


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(assets, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = loop.diffusion_loss

    def poisoned(*args):
        calls["n"] += 1
        loss = real(*args)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(loop, "diffusion_loss", poisoned)
    with pytest.raises(AudiometricError, match="step 3: the loss is nan.*checkpoint-2 is the last good state"):
        train(config(assets, tmp_path / "run", max_steps=5, checkpoint_every=1))
    assert (tmp_path / "run" / "latest").read_text().strip() == "checkpoint-2"
    assert not (tmp_path / "run" / "checkpoint-3").exists()


def test_bad_input_is_one_line(assets, tmp_path):
    with pytest.raises(AudiometricError, match="fewer than one batch per rank"):
        train(config(assets, tmp_path / "a", batch_size=10))
    with pytest.raises(AudiometricError, match="--world-size 2 was asked but this launch runs 1"):
        train(config(assets, tmp_path / "b", world_size=2))
    result = CliRunner().invoke(
        main,
        [
            "finetune",
            "--dataset",
            "us8k",
            "--data-dir",
            str(tmp_path / "nowhere"),
            "--model",
            str(assets["pipe"]),
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 2 and "error: --data-dir" in result.output
    result = CliRunner().invoke(main, ["finetune", "--dataset", "us8k"])
    assert result.exit_code == 2 and "missing --data-dir, --model, --out" in result.output
    import shutil

    partial = shutil.copytree(assets["pipe"], tmp_path / "partial")
    shutil.rmtree(partial / "vocoder")
    with pytest.raises(AudiometricError, match="lacks its vocoder component"):
        train(config(assets, tmp_path / "d", model=str(partial)))


def test_out_of_memory_is_one_line_of_advice(assets, tmp_path, monkeypatch):
    def oom(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loop, "diffusion_loss", oom)
    with pytest.raises(AudiometricError, match="out of memory at step 1.*--batch-size.*--grad-accum.*--precision"):
        train(config(assets, tmp_path / "run"))


def test_periodic_evaluation_and_final_pipeline(assets, tmp_path, monkeypatch):
    import audiometric.scoring.pipeline as score_module

    monkeypatch.setattr(score_module, "load_models", lambda needs, device, *_: {n: ToyBackbone().eval() for n in needs})
    (tmp_path / "cfg.yaml").write_text(
        f"dataset: us8k\ndata-dir: {assets['us8k']}\nmodel: {assets['pipe']}\nduration: 1.28\nbatch-size: 2\n"
        "max-steps: 2\neval-every: 1\neval-steps: 2\neval-metrics: [fd, kl]\neval-backbone: toy\n"
        f"eval-split: fold9,10\neval-candidates: 2\nclap: {assets['clap']}\n"
    )
    result = CliRunner().invoke(
        main,
        ["finetune", "--config", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "run"), "--no-progress"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    rows = list(csv.DictReader(open(run / "eval.csv")))
    assert [r["step"] for r in rows] == ["1", "2"]
    assert all(np.isfinite(float(r[m])) for r in rows for m in ("fd", "kl_softmax", "kl_sigmoid"))
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (run / "eval" / "step-2").iterdir()) == ["109-0-0-0.wav", "110-0-0-0.wav"]
    summary = json.loads(result.stdout)
    assert summary["final"] == str(run / "final") and summary["last_eval"]["fd"] == pytest.approx(float(rows[1]["fd"]))
    # `generate --model RUN/final` reads the result, and with the evaluation's settings reproduces its last clips
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--model",
            str(run / "final"),
            "--dataset",
            "us8k",
            "--data-dir",
            str(assets["us8k"]),
            "--split",
            "fold9,10",
            "--steps",
            "2",
            "--guidance",
            "3.5",
            "--duration",
            "1.28",
            "--candidates",
            "2",
            "--clap",
            str(assets["clap"]),
            "--out",
            str(tmp_path / "gen"),
            "--no-progress",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    for name in ("109-0-0-0.wav", "110-0-0-0.wav"):
        ours, _ = sf.read(run / "eval" / "step-2" / name, dtype="int16")
        theirs, _ = sf.read(tmp_path / "gen" / name, dtype="int16")
        assert ours.shape == (20480,) and np.array_equal(ours, theirs) and np.abs(ours).max() > 0
    # sharded across 2 ranks, the evaluation writes the same files (rank r takes every 2nd prompt)
    from audiometric.datasets import get
    from audiometric.ldm.clap import load_clap_audio
    from audiometric.ldm.components import load_components
    from audiometric.ldm.train.evaluation import Evaluator

    cfg = config(assets, tmp_path / "shard", eval_steps=2, eval_candidates=2, clap=str(assets["clap"]))
    final = load_components(run / "final")
    evaluator = Evaluator(
        cfg=cfg,
        components=final,
        items=get("us8k").items(assets["us8k"], split="fold9,10"),
        device=torch.device("cpu"),
        tower=load_clap_audio(assets["clap"]),
        is_main=False,
    )
    evaluator.generate(2, final.unet, rank=1, world_size=2)
    assert [p.name for p in evaluator.folder(2).iterdir()] == ["110-0-0-0.wav"]
    evaluator.generate(2, final.unet, rank=0, world_size=2)
    for name in ("109-0-0-0.wav", "110-0-0-0.wav"):
        assert np.array_equal(
            sf.read(evaluator.folder(2) / name, dtype="int16")[0],
            sf.read(run / "eval" / "step-2" / name, dtype="int16")[0],
        )


def test_two_process_ddp_through_accelerate(assets, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "audiometric",
        "finetune",
        "--dataset",
        "us8k",
        "--data-dir",
        str(assets["us8k"]),
        "--model",
        str(assets["pipe"]),
        "--out",
        str(tmp_path / "run"),
        "--duration",
        "1.28",
        "--batch-size",
        "2",
        "--max-steps",
        "2",
        "--eval-every",
        "2",
        "--eval-steps",
        "2",
        "--eval-split",
        "fold8,9,10",
        "--eval-metrics",
        "fd",
        "--eval-backbone",
        "aisfx",
        "--world-size",
        "2",
        "--no-progress",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    digests = summary["rank_weight_digests"]
    assert summary["world_size"] == 2 and len(digests) == 2 and digests[0] == digests[1]  # ranks agree
    rows = list(csv.DictReader(open(tmp_path / "run" / "train.csv")))
    assert len(rows) == 2 and float(rows[0]["clips_per_s"]) > 0
    # the evaluation was sharded (rank 0: 2 clips, rank 1: 1) and scored once by rank 0
    assert sorted(p.name for p in (tmp_path / "run" / "eval" / "step-2").iterdir()) == [
        "108-0-0-0.wav",
        "109-0-0-0.wav",
        "110-0-0-0.wav",
    ]
    evals = list(csv.DictReader(open(tmp_path / "run" / "eval.csv")))
    assert [e["step"] for e in evals] == ["2"] and np.isfinite(float(evals[0]["fd"]))


def test_table2_grid_runs_resumes_and_assembles(assets, tmp_path, monkeypatch):
    import audiometric.scoring.pipeline as score_module

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
    import table2

    monkeypatch.setattr(score_module, "load_models", lambda needs, device, *_: {n: ToyBackbone().eval() for n in needs})
    (tmp_path / "grid.yaml").write_text(
        f"model: {assets['pipe']}\ninits: [pretrained, scratch]\nconditions: [text]\nselect: fd\n"
        "finetune: {max_steps: 2, batch_size: 2, duration: 1.28, eval_every: 1, eval_steps: 2, "
        "eval_metrics: [fd, kl], eval_backbone: toy, checkpoint_every: 1}\n"
        f"datasets:\n  esc50: {{data_dir: {assets['esc50']}, train_split: train, eval_split: test}}\n"
    )
    args = ["--config", str(tmp_path / "grid.yaml"), "--out", str(tmp_path / "out"), "--no-progress"]
    assert table2.main(args) == 0
    out = tmp_path / "out"
    rows = list(csv.DictReader(open(out / "table2.csv")))
    assert [(r["init"], r["condition"], r["of steps"]) for r in rows] == [
        ("pretrained", "text", "2"),
        ("scratch", "text", "2"),
    ]
    for row, init in zip(rows, ("pretrained", "scratch")):  # the stated rule: lowest FD, earliest on ties
        evals = list(csv.DictReader(open(out / "runs" / f"esc50-{init}-text" / "eval.csv")))
        fds = [float(e["fd"]) for e in evals]
        assert row["best step"] == evals[int(np.argmin(fds))]["step"] and float(row["FD ↓"]) == pytest.approx(
            min(fds), abs=5e-4
        )
    assert (out / "fig2.png").read_bytes()[:4] == b"\x89PNG"
    stamp = (out / "runs" / "esc50-scratch-text" / "train.csv").stat().st_mtime_ns
    assert table2.main(args) == 0  # finished cells are kept, not retrained
    assert (out / "runs" / "esc50-scratch-text" / "train.csv").stat().st_mtime_ns == stamp


def test_force_resumes_with_other_settings_and_records_them(assets, tmp_path):
    train(config(assets, tmp_path / "run", max_steps=1))
    train(config(assets, tmp_path / "run", max_steps=2, lr=2e-3, resume="latest", force=True))
    rows = list(csv.DictReader(open(tmp_path / "run" / "train.csv")))
    assert [float(r["lr"]) for r in rows] == pytest.approx([5e-4, 2e-3])  # the new LR from the resumed step on
    assert json.loads((tmp_path / "run" / "settings.json").read_text())["lr"] == 2e-3


def test_missing_evaluation_weights_stop_before_step_one(assets, tmp_path):
    """Issue 14 item 7: without the Cnn14/VGGish weights (offline), finetune fails before training, names
    --checkpoint (which it now has), and writes no checkpoint."""
    args = ["finetune", "--dataset", "us8k", "--data-dir", str(assets["us8k"]), "--model", str(assets["pipe"])]
    args += ["--duration", "1.28", "--max-steps", "2", "--eval-every", "1", "--checkpoint-every", "1", "--no-progress"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "--checkpoint panns-cnn14-16k=PATH" in result.stderr and "--eval-every 0" in result.stderr
    assert not list(tmp_path.glob("run/checkpoint-*")) and not (tmp_path / "run" / "train.csv").exists()
    missing = ["--eval-metrics", "fad", "--checkpoint", f"vggish={tmp_path}/no.pth"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), *missing])
    assert result.exit_code == 2 and "--checkpoint vggish=" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "b").exists()
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "c"), "--eval-metrics", "fd,bogus"])
    assert result.exit_code == 2 and "--eval-metrics: unknown metric 'bogus'" in result.stderr
    assert not (tmp_path / "c").exists()


def test_csv_dataset_trains_end_to_end(assets, tmp_path):
    """Issue 14 item 16: --dataset csv with --data-dir naming the CSV file (UTF-8 with a BOM, as saved by a
    spreadsheet); --file-pattern's placeholders are in --help."""
    clips = sorted((assets["us8k"] / "audio").rglob("*.wav"))[:4]
    table = tmp_path / "clips.csv"
    rows = "".join(f"{p},a tone number {i},{'train' if i < 3 else 'test'}\n" for i, p in enumerate(clips))
    table.write_text("path,caption,split\n" + rows, encoding="utf-8-sig")
    result = CliRunner().invoke(
        main,
        ["finetune", "--dataset", "csv", "--data-dir", str(table), "--model", str(assets["pipe"]), "--out"]
        + [str(tmp_path / "run"), "--duration", "1.28", "--max-steps", "1", "--eval-every", "0", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["clips"] == 3 and summary["steps"] == 1 and (tmp_path / "run" / "final").is_dir()
    help_text = CliRunner().invoke(main, ["finetune", "--help"]).output
    assert "{start_seconds}" in help_text and "{youtube_id}_{start_time}.wav" in help_text


def test_unreadable_evaluation_clip_stops_before_step_one(assets, tmp_path, monkeypatch):
    """Issue 14 item 7: the held-out reference is exported (decoded) before step 1, so a truncated held-out
    clip is named before any training, not thousands of steps in."""
    import shutil

    import audiometric.scoring.pipeline as score_module

    monkeypatch.setattr(score_module, "load_models", lambda needs, device, *_: {n: ToyBackbone().eval() for n in needs})
    data = shutil.copytree(assets["us8k"], tmp_path / "us8k")
    cut = data / "audio" / "fold10" / "110-0-0-0.wav"
    cut.write_bytes(cut.read_bytes()[:3000])
    cfg = config(assets, tmp_path / "run", data_dir=str(data), eval_every=1, eval_split="fold10", eval_metrics=["fd"])
    cfg.eval_backbone = "toy"
    with pytest.raises(AudiometricError, match=r"110-0-0-0.wav: truncated"):
        train(cfg)
    assert not list((tmp_path / "run").glob("checkpoint-*")) and not (tmp_path / "run" / "train.csv").exists()
