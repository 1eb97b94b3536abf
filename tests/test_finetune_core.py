"""Fine-tuning building blocks on tiny diffusers models: data order, seeded draws, the ε-loss, EMA, logs,
settings checks and atomic checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("diffusers")  # the `ldm` extra
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from diffusers import DDPMScheduler, UNet2DConditionModel

from audiometric.errors import AudiometricError
from audiometric.ldm.ema import EMA
from audiometric.ldm.train import checkpoint
from audiometric.ldm.train.config import TrainConfig, differences, load_yaml
from audiometric.ldm.train.data import check_size, draws, indices
from audiometric.ldm.train.logs import CsvLog
from audiometric.ldm.train.loop import StopSignals, freeze, warmup_factor
from audiometric.ldm.train.runfolder import check_world_size
from audiometric.ldm.train.step import diffusion_loss

torch.set_num_threads(1)


def tiny_unet(seed: int = 0) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=(32, 16),
        in_channels=8,
        out_channels=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        cross_attention_dim=(8, 16),
        norm_num_groups=4,
        attention_head_dim=4,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=12,
        class_embeddings_concat=True,
    )


def test_indices_shard_ranks_and_cover_each_epoch():
    clips, batch, world = 10, 2, 2
    seen = []
    for g in range(5):  # 5 micro-steps × 2 ranks × 2 clips = 20 slots = two epochs
        per_rank = [indices(clips, batch, world, r, 7, g).tolist() for r in range(world)]
        assert not set(per_rank[0]) & set(per_rank[1])  # distinct clips on the two ranks
        seen += per_rank[0] + per_rank[1]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]  # a new permutation each epoch
    assert indices(clips, batch, world, 1, 7, 3).tolist() == indices(clips, batch, world, 1, 7, 3).tolist()

    def epoch(seed):
        return [i for g in range(5) for r in range(world) for i in indices(clips, batch, world, r, seed, g)]

    assert epoch(7) == [int(i) for i in seen] and epoch(8) != epoch(7)


def test_draws_depend_only_on_seed_step_rank():
    a = draws((3, 8, 4, 4), 1000, 0.5, 0, 5, 1)
    b = draws((3, 8, 4, 4), 1000, 0.5, 0, 5, 1)
    c = draws((3, 8, 4, 4), 1000, 0.5, 0, 5, 0)
    assert torch.equal(a.noise, b.noise) and torch.equal(a.timesteps, b.timesteps) and torch.equal(a.drop, b.drop)
    assert not torch.equal(a.noise, c.noise)
    many = draws((4000, 1, 1, 1), 1000, 0.1, 0, 0, 0)
    assert 0.08 < many.drop.float().mean() < 0.12 and many.timesteps.min() >= 0 and many.timesteps.max() <= 999


def test_diffusion_loss_matches_diffusers_add_noise_and_cfg_dropout():
    unet = tiny_unet()
    sched = DDPMScheduler(num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear")
    mean, std = torch.randn(2, 8, 32, 16), torch.rand(2, 8, 32, 16)
    cond = torch.nn.functional.normalize(torch.randn(2, 12), dim=-1)
    empty = torch.nn.functional.normalize(torch.randn(12), dim=-1)
    draw = draws((2, 8, 32, 16), 1000, 0.5, 3, 0, 0)
    draw.drop = torch.tensor([True, False])
    loss = diffusion_loss(unet, sched.alphas_cumprod, 0.7, mean, std, cond, empty, draw)
    z0 = (mean + std * draw.posterior) * 0.7
    noisy = sched.add_noise(z0, draw.noise, draw.timesteps)
    labels = torch.stack([empty, cond[1]])
    expected = torch.mean((unet(noisy, draw.timesteps, None, class_labels=labels).sample - draw.noise) ** 2)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_ema_follows_litema_decay_and_round_trips():
    model = torch.nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    start = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)  # decay at update 0: min(0.9, 1/10) = 0.1
    for s, p0 in zip(ema.shadow, start):
        torch.testing.assert_close(s, 0.1 * p0 + 0.9 * (p0 + 1))
    assert ema.current_decay() == pytest.approx(min(0.9, 2 / 11))
    other = EMA(torch.nn.Linear(3, 2), decay=0.5)
    other.load_state_dict(ema.state_dict())
    target = torch.nn.Linear(3, 2)
    other.copy_to(target)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), ema.shadow)) and other.num_updates == 1


def test_warmup_then_constant():
    f = warmup_factor(4)
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0)(0) == 1.0


def test_freeze_makes_networks_inert():
    nets = {"vae": torch.nn.Linear(2, 2).train(), "vocoder": torch.nn.Conv1d(1, 1, 3)}
    freeze(nets)
    assert all(not m.training and not any(p.requires_grad for p in m.parameters()) for m in nets.values())


def test_csv_log_appends_widens_and_truncates(tmp_path):
    log = CsvLog(tmp_path / "train.csv")
    for step in (1, 2, 3):
        log.append({"step": step, "loss": 0.5 / step})
    log.append({"step": 4, "loss": 0.1, "fd": 3.0})
    again = CsvLog(tmp_path / "train.csv")
    assert again.columns() == ["step", "loss", "fd"] and len(again.rows) == 4
    again.truncate(2)
    assert [r["step"] for r in CsvLog(tmp_path / "train.csv").rows] == ["1", "2"]


def test_bad_settings_fail_with_one_line(tmp_path, monkeypatch):
    with pytest.raises(AudiometricError, match="--condition"):
        TrainConfig(dataset="us8k", data_dir="d", model="m", out="o", condition="video")
    with pytest.raises(AudiometricError, match="fewer than one batch per rank"):
        check_size(3, 2, 2)
    with pytest.raises(AudiometricError, match="--world-size 2 was asked but this launch runs 1"):
        check_world_size(2, 1)
    check_world_size(None, 1)
    monkeypatch.setenv("WORLD_SIZE", "2")  # launched as 2 processes that never formed a group
    with pytest.raises(AudiometricError, match="started 2 processes but they did not join one group"):
        check_world_size(None, 1)
    check_world_size(2, 2)
    monkeypatch.delenv("WORLD_SIZE")
    (tmp_path / "c.yaml").write_text("dataset: us8k\nlearning-rate: 1\n")
    with pytest.raises(AudiometricError, match="unknown option.*learning_rate"):
        load_yaml(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("dataset: us8k\nmax-steps: 7\n")
    assert load_yaml(tmp_path / "d.yaml") == {"dataset": "us8k", "max_steps": 7}
    a = TrainConfig(dataset="us8k", data_dir="d", model="m", out="o").training_settings()
    b = TrainConfig(dataset="us8k", data_dir="d", model="m", out="o", lr=1e-4, max_steps=9).training_settings()
    assert differences(a, b) == ["lr: 3e-05 -> 0.0001"]  # max_steps may change on resume


class _FakeAccelerator:
    """One process; save_state writes a marker file, or fails like a full disk."""

    is_main_process = True
    device = torch.device("cpu")

    def __init__(self, fail: bool = False):
        self.fail = fail

    def wait_for_everyone(self):
        pass

    def reduce(self, tensor, reduction="sum"):
        return tensor

    def save_state(self, folder):
        from pathlib import Path

        Path(folder).mkdir(parents=True)
        (Path(folder) / "model.safetensors").write_bytes(b"x" * 100)
        if self.fail:
            raise OSError(28, "No space left on device")


def test_checkpoints_atomic_pruned_and_full_disk_keeps_latest(tmp_path):
    for step in (1, 2, 3, 4):
        checkpoint.save(_FakeAccelerator(), tmp_path, step, 2, json.dumps({"step": step}))
    assert [s for s, _ in checkpoint.checkpoints(tmp_path)] == [3, 4]
    assert checkpoint.latest(tmp_path) == tmp_path / "checkpoint-4"
    with pytest.raises(AudiometricError, match="No space left.*checkpoint-4 is still the latest"):
        checkpoint.save(_FakeAccelerator(fail=True), tmp_path, 5, 2, "{}")
    assert checkpoint.latest(tmp_path) == tmp_path / "checkpoint-4"
    assert not list(tmp_path.glob(".checkpoint-*")) and not (tmp_path / "checkpoint-5").exists()
    assert checkpoint.resolve(tmp_path, "latest") == tmp_path / "checkpoint-4"
    with pytest.raises(AudiometricError, match="has no checkpoint yet"):
        checkpoint.resolve(tmp_path / "empty", "latest")


def test_stop_signals_set_a_flag_then_interrupt():
    import os
    import signal

    # as in a terminal, whatever the runner set (a background job starts with SIGINT ignored)
    runner = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with StopSignals() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.requested
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, runner)
