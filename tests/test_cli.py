"""End to end through the CLI: real backbone code with official-layout random weights (PANNs, VGGish)
or the real aisfx network; bad input, cache reuse, statistics files, and torchrun sharding."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tone_set, write_wav

from audiometric.backbones.panns import Cnn14At16k
from audiometric.backbones.vggish import VGGish
from audiometric.cli import main
from audiometric.metrics import frechet_from_features, kl_softmax


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """Random-init checkpoints in the official layouts: Cnn14 as a training dict, VGGish as a state_dict."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    cnn = folder / "Cnn14_16k_random.pth"
    torch.save({"model": Cnn14At16k().state_dict(), "iteration": 0, "sampler": {"queue": np.arange(4)}}, cnn)
    vgg = folder / "vggish_random.pth"
    torch.save(VGGish().state_dict(), vgg)
    return ["--checkpoint", f"panns-cnn14-16k={cnn}", "--checkpoint", f"vggish={vgg}"]


@pytest.fixture(scope="session")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    tone_set(root / "gen", 10, seconds=1.0, seed=1, noise=0.3)
    tone_set(root / "ref", 10, seconds=1.0, seed=2, noise=0.05)
    return root


@pytest.fixture(scope="session")
def sfx_sets(tmp_path_factory):
    """Sets for the real aisfx network (44.1 kHz, 512-d, one block per 2.3 s): cheap Fréchet, real behaviour."""
    root = tmp_path_factory.mktemp("sfx")
    tone_set(root / "gen", 8, rate=22050, seconds=3.0, seed=1, noise=0.3)
    tone_set(root / "ref", 8, rate=22050, seconds=3.0, seed=2, noise=0.05)
    return root


SFX = ["--backbone", "aisfx", "--workers", "0", "--no-progress"]


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_score_all_metrics_with_provenance(sets, checkpoints, tmp_path):
    out = tmp_path / "r.json"
    res = run(
        "score",
        str(sets / "gen"),
        str(sets / "ref"),
        "--metrics",
        "fd,is,kl,fad,kad",
        "--workers",
        "0",
        "--no-progress",
        "--json",
        str(out),
        "--csv",
        str(tmp_path / "r.csv"),
        *checkpoints,
    )
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert set(result["metrics"]) == {"fd", "is", "kl_softmax", "kl_sigmoid", "fad", "kad"}
    assert all(np.isfinite(m["value"]) for m in result["metrics"].values())
    assert result["metrics"]["fd"]["n_generated"] == 10 and result["metrics"]["kl_softmax"]["n_pairs"] == 10
    assert result["metrics"]["fad"]["rows_generated"] == 10  # one 0.96 s VGGish patch per 1 s clip
    assert any("singular" in w or "N <= d" in w or "N ≤ d" in w or "fewer" in w for w in result["warnings"])
    assert len(result["backbones"]["panns-cnn14-16k"]["checkpoint_sha256"]) == 64
    assert result["versions"]["torch"] == torch.__version__
    for label in ("FD", "IS", "KL (softmax)", "FAD", "KAD"):
        assert label in res.output
    assert (tmp_path / "r.csv").read_text().startswith("metric,value")

    # the same numbers from the exported per-file outputs and the pure metric functions
    emb = tmp_path / "gen.npz"
    assert (
        run("embed", str(sets / "gen"), "-o", str(emb), "--workers", "0", "--no-progress", *checkpoints).exit_code == 0
    )
    ref_emb = tmp_path / "ref.npz"
    run("embed", str(sets / "ref"), "-o", str(ref_emb), "--workers", "0", "--no-progress", *checkpoints)
    g, r = np.load(emb), np.load(ref_emb)
    assert list(g["names"]) == [f"clip{i:03d}.wav" for i in range(10)]
    fd = frechet_from_features(g["panns-cnn14-16k:embedding"], r["panns-cnn14-16k:embedding"])
    assert result["metrics"]["fd"]["value"] == pytest.approx(fd, rel=1e-9)
    kl = kl_softmax(g["panns-cnn14-16k:logits"], r["panns-cnn14-16k:logits"])
    assert result["metrics"]["kl_softmax"]["value"] == pytest.approx(kl, rel=1e-9)


def test_second_run_is_served_from_cache(sfx_sets, tmp_path):
    args = ["score", str(sfx_sets / "gen"), str(sfx_sets / "ref"), "--metrics", "fd", *SFX]
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    run(*args, "--json", str(first))
    run(*args, "--json", str(second))
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert a["cache"]["misses"] == 16 and b["cache"]["misses"] == 0 and b["cache"]["hits"] == 16
    assert a["metrics"]["fd"]["value"] == b["metrics"]["fd"]["value"]


def test_statistics_file_gives_the_same_fd(sfx_sets, tmp_path):
    stats = tmp_path / "ref.npz"
    res = run("stats", str(sfx_sets / "ref"), "-o", str(stats), "--metrics", "fd", *SFX)
    assert res.exit_code == 0, res.output
    direct, via_stats = tmp_path / "d.json", tmp_path / "s.json"
    run("score", str(sfx_sets / "gen"), str(sfx_sets / "ref"), "--metrics", "fd", "--json", str(direct), *SFX)
    res = run("score", str(sfx_sets / "gen"), str(stats), "--metrics", "fd,kad", "--json", str(via_stats), *SFX)
    assert res.exit_code == 0, res.output
    d, s = json.loads(direct.read_text()), json.loads(via_stats.read_text())
    assert s["metrics"]["fd"]["value"] == pytest.approx(d["metrics"]["fd"]["value"], rel=1e-9)
    assert "per-clip reference" in s["not_computed"]["kad"] and s["reference"]["scored"] == 8
    # FD is defined on PANNs Cnn14: on aisfx the result says it is not comparable, in JSON and table
    assert "computed here on aisfx" in s["metrics"]["fd"]["note"] and "note: FD: defined on" in res.output
    # other preprocessing than the statistics were made with: refused, one line
    res = run("score", str(sfx_sets / "gen"), str(stats), "--metrics", "fd", "--channels", "mean", *SFX)
    assert res.exit_code == 2 and "preprocessing" in res.output and res.output.count("\n") == 1


def test_kl_skipped_with_reason_when_names_differ(checkpoints, tmp_path):
    tone_set(tmp_path / "g", 4, prefix="a")
    tone_set(tmp_path / "r", 4, prefix="b")
    out = tmp_path / "r.json"
    res = run(
        "score",
        str(tmp_path / "g"),
        str(tmp_path / "r"),
        "--metrics",
        "kl,is",
        "--workers",
        "0",
        "--no-progress",
        "--json",
        str(out),
        *checkpoints,
    )
    assert res.exit_code == 1, res.output  # nothing computed: non-zero, with the reasons and the JSON kept
    assert res.output.strip().splitlines()[-1].startswith("error: none of the requested metrics (kl, is)")
    result = json.loads(out.read_text())
    assert "only 0 of 4 generated names" in result["not_computed"]["kl"]
    assert "not computed: kl" in res.output.lower() or "not computed: KL" in res.output


def test_bootstrap_and_fd_infinity(sfx_sets, tmp_path):
    out, again = tmp_path / "r.json", tmp_path / "r2.json"
    args = [
        "score",
        str(sfx_sets / "gen"),
        str(sfx_sets / "ref"),
        "--metrics",
        "fd,kad",
        "--bootstrap",
        "20",
        "--fd-inf",
        "--seed",
        "3",
        *SFX,
    ]
    res = run(*args, "--json", str(out))
    assert res.exit_code == 0, res.output
    run(*args, "--json", str(again))
    m, m2 = json.loads(out.read_text())["metrics"], json.loads(again.read_text())["metrics"]
    low, high = m["fd"]["ci"]
    assert low <= high and m["fd"]["replicates"] == 20 and m["kad"]["ci"][0] <= m["kad"]["ci"][1]
    assert m["fd"]["ci"] == m2["fd"]["ci"] and m["fd_inf"]["value"] == m2["fd_inf"]["value"]  # seeded
    assert {"value", "slope", "r2", "points"} <= set(m["fd_inf"]) and len(m["fd_inf"]["points"]) >= 2


def test_offline_without_weights_is_one_line(sets):
    res = run("score", str(sets / "gen"), str(sets / "ref"), "--metrics", "fd", "--no-progress")
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and "Cnn14_16k_mAP=0.438.pth" in line and "zenodo.org" in line


@pytest.mark.parametrize(
    "make,needle,status",
    [
        (lambda p: None, "not found", 2),  # a path to correct: usage
        (lambda p: p.mkdir(), "no audio files", 1),  # nothing to score: data
    ],
)
def test_missing_or_empty_folder(sets, tmp_path, make, needle, status):
    make(tmp_path / "x")
    res = run(
        "score", str(tmp_path / "x"), str(sets / "ref"), "--backbone", "aisfx", "--metrics", "fd", "--no-progress"
    )
    assert res.exit_code == status and needle in res.output and res.output.count("\n") == 1


def _bad_folder(folder):
    """Every kind of awkward input next to two ordinary clips."""
    rng = np.random.default_rng(0)
    tone_set(folder, 2, rate=22050, seconds=3.0)
    (folder / "truncated.wav").write_bytes((folder / "clip000.wav").read_bytes()[:40])
    (folder / "text.wav").write_text("definitely not audio")
    (folder / "zero.wav").write_bytes(b"")
    write_wav(folder / "empty.wav", np.zeros(0, np.float32), 16000)
    nan = rng.standard_normal(8000).astype(np.float32)
    nan[5] = np.inf
    write_wav(folder / "inf.wav", nan, 16000, "FLOAT")
    write_wav(folder / "silence.wav", np.zeros(16000, np.float32), 16000)
    write_wav(folder / "six_channels.wav", 0.1 * rng.standard_normal((16000, 6)).astype(np.float32), 48000)
    write_wav(folder / "8k.wav", 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    write_wav(folder / "96k.wav", 0.1 * rng.standard_normal(96000).astype(np.float32), 96000)
    write_wav(folder / "tiny.wav", 0.1 * rng.standard_normal(500).astype(np.float32), 16000)  # 0.03 s
    write_wav(folder / "long.flac", 0.05 * rng.standard_normal(600 * 8000).astype(np.float32), 8000, "PCM_16")
    write_wav(folder / "ünïcødé 音.wav", 0.1 * rng.standard_normal(16000).astype(np.float32), 16000)
    os.symlink(folder / "8k.wav", folder / "link.wav")
    (folder / "readme.txt").write_text("notes")
    return {"truncated.wav", "text.wav", "zero.wav", "empty.wav", "inf.wav", "readme.txt"}


def test_every_bad_input_is_a_recorded_skip_and_strict_fails(tmp_path):
    bad = _bad_folder(tmp_path / "gen")
    tone_set(tmp_path / "ref", 3, rate=22050, seconds=3.0, seed=5)
    out = tmp_path / "r.json"
    res = run(
        "score",
        str(tmp_path / "gen"),
        str(tmp_path / "ref"),
        "--backbone",
        "aisfx",
        "--metrics",
        "fd,kad",
        "--workers",
        "0",
        "--no-progress",
        "--json",
        str(out),
    )
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    skipped = {os.path.basename(s["file"]): s["reason"] for s in result["generated"]["skipped"]}
    assert set(skipped) == bad and all(skipped.values())
    assert result["generated"]["scored"] == 10  # 2 tones, silence, 6 ch, 8k, 96k, tiny, long, unicode, link
    for name in bad:
        assert name in res.output
    res = run(
        "score",
        str(tmp_path / "gen"),
        str(tmp_path / "ref"),
        "--backbone",
        "aisfx",
        "--metrics",
        "fd",
        "--workers",
        "0",
        "--no-progress",
        "--strict",
    )
    assert res.exit_code == 1 and "--strict" in res.output and res.output.count("\n") == 1  # data, not usage


def test_one_file_only_reports_instead_of_crashing(tmp_path):
    tone_set(tmp_path / "g", 1, rate=22050, seconds=3.0)
    tone_set(tmp_path / "r", 3, rate=22050, seconds=3.0, seed=4)
    out = tmp_path / "r.json"
    res = run(
        "score",
        str(tmp_path / "g"),
        str(tmp_path / "r"),
        "--backbone",
        "aisfx",
        "--metrics",
        "fd,kad",
        "--workers",
        "0",
        "--no-progress",
        "--json",
        str(out),
    )
    assert res.exit_code == 1, res.output
    result = json.loads(out.read_text())
    assert "at least 2" in result["not_computed"]["fd"] and "at least 2" in result["not_computed"]["kad"]
    assert "not computed: FD" in res.output


def test_torchrun_two_ranks_equal_one(tmp_path):
    """Files are sharded without padding or duplicates and gathered in order: same numbers as one rank
    (bit-identical at equal thread counts, so both runs go through torchrun with one thread per rank)."""
    tone_set(tmp_path / "g", 5, rate=22050, seconds=3.0, seed=1)
    tone_set(tmp_path / "r", 4, rate=22050, seconds=3.0, seed=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    results = {}
    for ranks in (1, 2):
        out = tmp_path / f"{ranks}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                str(ranks),
                "-m",
                "audiometric",
                "score",
                str(tmp_path / "g"),
                str(tmp_path / "r"),
                "--metrics",
                "fd,kad",
                *SFX,
                "--device",
                "cpu",
                "--no-cache",
                "--json",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        results[ranks] = json.loads(out.read_text())
    one, two = results[1], results[2]
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["generated"]["scored"] == 5 and two["reference"]["scored"] == 4
    for key in ("fd", "kad"):
        assert two["metrics"][key]["value"] == one["metrics"][key]["value"]


def test_two_concurrent_runs_share_one_cache_safely(sfx_sets, tmp_path):
    """Two processes embedding the same files into one cache at once: both succeed, agree, and leave
    only complete entries (atomic renames; the second writer rewrites identical bytes)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUDIOMETRIC_HOME": str(tmp_path / "home")}
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "audiometric",
                "embed",
                str(sfx_sets / "gen"),
                "-o",
                str(out),
                "--backbone",
                "aisfx",
                "--workers",
                "0",
                "--no-progress",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    a, b = np.load(outs[0]), np.load(outs[1])
    np.testing.assert_array_equal(a["aisfx:embedding"], b["aisfx:embedding"])
    entries = list((tmp_path / "home" / "embeddings").rglob("*.npz"))
    assert len(entries) == 8 and not list((tmp_path / "home").rglob("*.tmp"))
    for entry in entries:
        with np.load(entry) as data:
            assert data["embedding"].shape[1] == 512


def test_score_help_documents_every_option_and_ends_with_examples():
    from audiometric.cli.score import score

    undocumented = [p.name for p in score.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []
    res = run("score", "--help")
    assert res.exit_code == 0
    lines = [line.strip() for line in res.output.rstrip().splitlines()]
    tail = lines[lines.index("Examples:") + 1 :]
    assert len(tail) >= 3 and all(line.startswith("audiometric score ") for line in tail)


def test_unknown_metric_names_the_choices(sfx_sets):
    res = run("score", str(sfx_sets / "gen"), str(sfx_sets / "ref"), "--metrics", "FD,fid", *SFX)
    from audiometric.metrics import METRICS

    assert res.exit_code == 2 and f"unknown metric(s) fid; choose from {', '.join(METRICS)}" in res.output


def test_missing_checkpoint_hint_names_only_files_that_exist(sets, tmp_path, _isolated_home):
    args = [
        "score",
        str(sets / "gen"),
        str(sets / "ref"),
        "--metrics",
        "fad",
        "--no-progress",
        "--checkpoint",
        f"vggish={tmp_path / 'nope.pth'}",
    ]
    res = run(*args)
    assert res.exit_code == 2 and "nope.pth" in res.output and "cached" not in res.output, res.output
    assert f"drop it to download vggish-10086976.pth into {_isolated_home / 'weights'}" in res.output
    cached = _isolated_home / "weights" / "vggish-10086976.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert f"drop it to use the cached {cached}" in run(*args).output


def _torchrun(*args: str, ranks: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(ranks),
            "-m",
            "audiometric",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_torchrun_stats_and_embed_shard_and_print_once(tmp_path):
    """Two ranks split the files (unsharded, the gathered count would be 10) and rank 0 alone prints and
    writes; the files equal a one-process run's (statistics up to float64 rounding of the merge)."""
    tone_set(tmp_path / "r", 5, rate=22050, seconds=1.0, seed=2)
    common = ["--backbone", "aisfx", "--workers", "0", "--no-progress", "--device", "cpu"]
    stats = _torchrun("stats", str(tmp_path / "r"), "-o", str(tmp_path / "two.npz"), "--metrics", "fd", *common)
    assert stats.returncode == 0, stats.stderr[-2000:]
    assert stats.stdout.count("wrote ") == 1 and "5 clips" in stats.stdout
    embed = _torchrun("embed", str(tmp_path / "r"), "-o", str(tmp_path / "two-embed.npz"), *common)
    assert embed.returncode == 0 and embed.stdout.count("wrote ") == 1, embed.stderr[-2000:]
    for command, out in (("stats", "one.npz"), ("embed", "one-embed.npz")):
        extra = ["--metrics", "fd"] if command == "stats" else []
        assert run(command, str(tmp_path / "r"), "-o", str(tmp_path / out), *extra, *common).exit_code == 0
    with np.load(tmp_path / "two.npz") as two, np.load(tmp_path / "one.npz") as one:
        assert int(two["aisfx:embedding:count"]) == 5
        for key in ("aisfx:embedding:mean", "aisfx:embedding:scatter"):
            np.testing.assert_allclose(two[key], one[key], rtol=1e-9, atol=1e-9)
    with np.load(tmp_path / "two-embed.npz") as two, np.load(tmp_path / "one-embed.npz") as one:
        assert list(two["names"]) == list(one["names"])
        np.testing.assert_array_equal(two["aisfx:embedding"], one["aisfx:embedding"])


def test_torchrun_user_error_is_one_line_from_rank_zero(tmp_path):
    proc = _torchrun(
        "stats",
        str(tmp_path / "missing"),
        "-o",
        str(tmp_path / "s.npz"),
        "--metrics",
        "fd",
        "--backbone",
        "aisfx",
        "--no-progress",
    )
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(("error:", "Error:"))]
    assert proc.returncode != 0 and ours == [f"error: {tmp_path / 'missing'}: directory not found; check the path"]
    assert "audiometric/" not in proc.stderr  # no traceback through our code on any rank
    assert "exitcode  : 2" in proc.stderr  # every rank exited with the CLI's user-error status


def test_allocator_setting_only_for_the_embedding_commands(monkeypatch):
    """mallopt is applied for score/embed/stats/sweep only; generate, finetune and corrupt keep glibc's default."""
    import audiometric.runtime.malloc as malloc

    calls = []
    monkeypatch.setattr(malloc, "retain_freed_memory", lambda: calls.append(True) or True)
    for command, applied in (("score", True), ("sweep", True), ("corrupt", False), ("generate", False)):
        calls.clear()
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and bool(calls) is applied, (command, result.output)


def test_config_files_merge_through_default_map(tmp_path):
    """One merge for every --config: command-line flags win, then the file, then the option's default."""
    from audiometric.cli.options import config_option

    @click.command()
    @config_option(lambda path: {"a": 5, "b": [1, 2], "params": {"x": "1"}}, "YAML options")
    @click.option("--a", type=int, default=1)
    @click.option("--b", default="0")
    @click.option("--c", type=int, default=3)
    @click.pass_context
    def cmd(ctx, a, b, c):
        click.echo(f"{a} {b} {c} {ctx.meta.get('config_params')}")

    (tmp_path / "c.yaml").write_text("a: 5\n")
    assert CliRunner().invoke(cmd, ["--config", str(tmp_path / "c.yaml"), "--a", "9"]).output == "9 1,2 3 {'x': '1'}\n"
    assert CliRunner().invoke(cmd, ["--a", "9"]).output == "9 0 3 None\n"


def test_finetune_help_states_the_train_config_defaults():
    from audiometric.ldm.train.config import TrainConfig

    text = CliRunner().invoke(main, ["finetune", "--help"], terminal_width=200).output
    assert f"[default: {TrainConfig.max_steps}]" in text and f"[default: {TrainConfig.lr}]" in text
