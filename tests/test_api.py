"""The Python API: the same JSON as the CLI, typed result access, embedding files on either side of
``score``, array-level metrics, a light ``import audiometric``, and the README's snippet run as written."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tone_set

import audiometric
from audiometric import api
from audiometric.cli import main
from audiometric.cli.compare import compare as compare_command
from audiometric.cli.embed import embed as embed_command
from audiometric.cli.options import extraction_kwargs
from audiometric.cli.score import score as score_command
from audiometric.cli.stats import stats as stats_command
from audiometric.scoring.result import Result

README = Path(__file__).resolve().parents[1] / "README.md"
QUIET = {"workers": 0, "progress": False}
pytestmark = pytest.mark.filterwarnings("ignore:Fréchet distance")  # N <= d on tiny sets, asserted elsewhere


@pytest.fixture(scope="module")
def sfx(tmp_path_factory):
    """Five 3 s clips per side for the real aisfx network (one row each)."""
    root = tmp_path_factory.mktemp("api")
    tone_set(root / "gen", 5, rate=22050, seconds=3.0, seed=1, noise=0.3)
    tone_set(root / "ref", 5, rate=22050, seconds=3.0, seed=2, noise=0.05)
    return root


@pytest.fixture(scope="module")
def scored(sfx):
    """The API's result on the aisfx sets (cache off: module fixtures run outside the per-test cache home)."""
    with pytest.warns(UserWarning, match="7 replicates"):
        return audiometric.score(
            sfx / "gen", sfx / "ref", ["fd", "kad"], "aisfx", bootstrap=7, seed=3, cache=False, **QUIET
        )


@pytest.fixture(scope="module")
def embedded(sfx, tmp_path_factory):
    """Both sets exported with ``audiometric.embed``: ``(folder, {side: arrays}, {side: npz path})``."""
    out = tmp_path_factory.mktemp("npz")
    arrays = {
        side: audiometric.embed(sfx / side, out / f"{side}.npz", ["aisfx"], cache=False, **QUIET)
        for side in ("gen", "ref")
    }
    return out, arrays, {side: out / f"{side}.npz" for side in arrays}


def _stable(result: dict) -> dict:
    """A result without what differs between two identical runs (creation time, timings)."""
    return {k: v for k, v in result.items() if k not in ("created", "timings_s")}


def test_cli_and_api_give_identical_json(sfx, scored, tmp_path):
    csv = tmp_path / "cli.csv"
    res = CliRunner().invoke(
        main,
        [
            "score",
            str(sfx / "gen"),
            str(sfx / "ref"),
            "--metrics",
            "FD,Kad",
            "--backbone",
            "aisfx",
            "--bootstrap",
            "7",
            "--seed",
            "3",
            "--workers",
            "0",
            "--no-progress",
            "--no-cache",
            "--json",
            "-",
            "--csv",
            str(csv),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    cli = json.loads(res.stdout)  # --json -: stdout is the JSON alone; the table and warnings go to stderr
    assert "FD " in res.stderr and "KAD " in res.stderr
    assert [line for line in res.stderr.splitlines() if "7 replicates" in line] == [
        "warning: bootstrap with 7 replicates: interval ends are unstable below 100 (use 1000 for intervals you report)"
    ]
    assert _stable(scored.as_dict()) == _stable(cli)
    assert scored.to_csv(tmp_path / "api.csv").read_text() == csv.read_text()
    assert cli["settings"]["metrics"] == ["fd", "kad"] and cli["cache"]["dir"] is None
    assert any("7 replicates" in w for w in cli["warnings"])


def test_result_gives_typed_access_to_the_json(scored, tmp_path):
    data = scored.as_dict()
    fd = scored["FD"]
    assert fd.value == data["metrics"]["fd"]["value"] == float(fd) and fd.backbone == "aisfx" and fd.better == "lower"
    assert fd["n_generated"] == 5 and fd.std is None and fd.ci[0] <= fd.ci[1] and list(scored) == ["fd", "kad"]
    text = scored.to_json(tmp_path / "r.json")
    assert json.loads(text) == data == json.loads((tmp_path / "r.json").read_text())
    data["metrics"].clear()  # as_dict is a copy
    assert "fd" in scored and len(scored) == 2 and repr(scored).startswith("Result(fd=")


def test_result_explains_missing_entries():
    result = Result(
        {
            "metrics": {"kl_softmax": {"value": 0.5}, "kl_sigmoid": {"value": 0.7}},
            "not_computed": {"is": "Inception score with 10 splits needs at least 10 clips, got 4"},
            "warnings": [],
        }
    )
    with pytest.raises(KeyError, match="is was not computed: Inception score with 10 splits"):
        result["IS"]
    with pytest.raises(KeyError, match="reported as kl_softmax, kl_sigmoid"):
        result["kl"]
    assert result["KL_SOFTMAX"].value == 0.5 and result.not_computed == {"is": result.not_computed["is"]}


def test_embedding_files_score_like_their_folders(sfx, scored, embedded):
    out, arrays, files = embedded
    gen, ref = arrays["gen"], arrays["ref"]
    with np.load(files["gen"]) as saved:
        assert sorted(saved.files) == sorted(gen)
        np.testing.assert_array_equal(saved["aisfx:embedding"], gen["aisfx:embedding"])
    assert list(gen["names"]) == [f"clip{i:03d}.wav" for i in range(5)]
    assert list(gen["aisfx:embedding:offsets"]) == [0, 1, 2, 3, 4, 5] and list(gen["sample_rates"]) == [22050] * 5
    for g, r in ((sfx / "gen", files["ref"]), (files["gen"], files["ref"])):
        stored = audiometric.score(g, r, "fd,kad", "aisfx", **QUIET)
        assert stored["fd"].value == scored["fd"].value and stored["kad"].value == scored["kad"].value
    data = stored.as_dict()  # both sides stored: no backbone loaded, provenance from the files
    assert data["device"] == "auto (unused: every output was read from embedding files)"
    assert data["backbones"] == scored.as_dict()["backbones"]
    assert data["generated"]["path"] == str(files["gen"]) and data["generated"]["scored"] == 5
    assert data["generated"]["embeddings"] == ["aisfx:embedding"] and data["generated"]["folder"] == str(sfx / "gen")
    # the array-level functions give the same numbers from the exported rows
    assert audiometric.frechet_distance(gen["aisfx:embedding"], ref["aisfx:embedding"]) == scored["fd"].value
    assert audiometric.kernel_audio_distance(gen["aisfx:embedding"], ref["aisfx:embedding"]) == scored["kad"].value


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--metrics", "fd"], "holds aisfx:embedding, not panns-cnn14-16k:embedding, which the requested metrics read"),
        (
            ["--backbone", "aisfx", "--metrics", "fd", "--channels", "mean"],
            "other preprocessing (channels='first' there, 'mean' now)",
        ),
    ],
)
def test_embedding_file_refusals_are_one_line(sfx, embedded, args, needle):
    res = CliRunner().invoke(
        main, ["score", str(embedded[2]["gen"]), str(sfx / "ref"), "--no-progress", "--workers", "0", *args]
    )
    assert res.exit_code == 2 and needle in res.output and res.output.count("\n") == 1, res.output


def test_array_functions():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 4)), rng.standard_normal((200, 4)) + 1.0
    # two Gaussians a unit shift apart in each of 4 dimensions: FD = ||mu1 - mu2||^2 = 4 for equal covariances
    assert audiometric.frechet_distance(x, y) == pytest.approx(4.0, rel=0.15)
    assert audiometric.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    logits = rng.standard_normal((40, 6)) * 3
    mean, std = audiometric.inception_score(logits)
    assert 1.0 < mean < 6.0 and std >= 0.0
    assert audiometric.kl(logits, logits) == pytest.approx(0.0, abs=1e-5)
    assert audiometric.kl(logits, logits[::-1]) > 0.1 and audiometric.kl(logits, logits[::-1], "sigmoid") != 0
    with pytest.raises(audiometric.AudiometricError, match="variant"):
        audiometric.kl(logits, logits, "tanh")


def test_api_defaults_equal_the_cli_defaults():
    """A script and the shell command with no options compute the same thing."""
    for command, func, renames, args in (
        (score_command, api.score, {"per_clip_path": "per_clip"}, ["g", "r"]),
        (stats_command, api.stats, {}, ["r", "-o", "r.npz"]),
        (embed_command, api.embed, {"names": "backbones"}, ["g", "-o", "g.npz"]),
        (compare_command, api.compare, {"report_path": "report"}, ["a", "b", "--ref", "r"]),
    ):
        cli = dict(command.make_context(command.name, args).params)  # every option at its default, parsed
        for argument in [p.name for p in command.params if isinstance(p, click.Argument) or p.required]:
            cli.pop(argument)
        extraction = {k: cli.pop(k) for k in inspect.signature(extraction_kwargs).parameters}
        cli.update(extraction_kwargs(**extraction))
        signature = {  # the function's own keywords, then those it passes on to the Scorer
            name: p.default
            for source in (api.extraction_options, func)
            for name, p in inspect.signature(source).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        for name, default in cli.items():
            name = renames.get(name, name)
            cli_only = ("json_path", "csv_path", "ranking_path", "output")  # where to write: the CLI's
            if name in cli_only or name not in signature:
                assert name in cli_only, f"{command.name}: --{name} has no API argument"
                continue
            want = signature[name]
            if name == "metrics":
                default, want = api.metric_names(default), api.metric_names(want)
            if name == "checkpoints":
                default, want = default or None, want
            assert default == want, f"{command.name} {name}: CLI {default!r}, API {want!r}"


def test_import_is_light_and_names_the_api():
    code = "import sys, audiometric; print('torch' in sys.modules, 'numpy' in sys.modules, sorted(audiometric.__all__))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(README.parent)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("False False") and "'frechet_distance'" in proc.stdout and "'Result'" in proc.stdout
    # the names are the API functions themselves; the pipeline lives in submodules of other names
    for name in ("score", "embed", "stats"):
        assert getattr(audiometric, name) is getattr(api, name) and inspect.isfunction(getattr(audiometric, name))
    importlib.import_module("audiometric.scoring.pipeline")  # importing the pipeline does not shadow the function
    assert audiometric.score is api.score


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    """The fenced python block of the README's Use section, executed as written on a tiny example."""
    use = README.read_text().split("\n## Use", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", use, flags=re.S)
    assert len(blocks) == 1
    tone_set(tmp_path / "examples" / "data" / "gen", 4, rate=22050, seconds=2.5, seed=1, noise=0.3)
    tone_set(tmp_path / "examples" / "data" / "ref", 4, rate=22050, seconds=2.5, seed=2, noise=0.05)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})
    assert json.loads((tmp_path / "result.json").read_text())["metrics"]["fd"]["backbone"] == "aisfx"


def test_strict_refuses_an_embedding_file_that_skipped_files(embedded, tmp_path):
    arrays = dict(embedded[1]["gen"])
    meta = json.loads(str(arrays["meta"]))
    meta["skipped"] = [{"file": "gen/broken.wav", "reason": "not audio"}]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "g.npz", **arrays)
    args = [str(tmp_path / "g.npz"), str(embedded[2]["ref"]), "--backbone", "aisfx", "--metrics", "fd", "--no-progress"]
    res = CliRunner().invoke(main, ["score", *args, "--strict"])
    assert res.exit_code == 1 and "gen/broken.wav: not audio" in res.output and "--strict" in res.output
    res = CliRunner().invoke(main, ["score", *args])
    assert res.exit_code == 0 and "skipped (generated): gen/broken.wav: not audio" in res.output


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"metrics": "fd,fid"}, "unknown metric(s) fid"),
        ({"device": "tpu"}, "--device 'tpu'"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"channels": "left"}, "channels must be"),
        ({"bootstrap": -1}, "bootstrap must be"),
        ({"confidence": 1.0}, "confidence must"),
        ({"ci_method": "bca"}, "ci_method must be"),
        ({"backbone": "nope"}, "unknown backbone 'nope'"),
        ({"metrics": "is", "per_clip": "clips.csv"}, "--per-clip ranks clips by fd, fad, kl"),
        ({"max_seconds": 0}, "max_seconds must be"),
        ({"checkpoints": {"nope": "x.pth"}}, "unknown checkpoint name"),
    ],
)
def test_bad_arguments_are_one_line_errors_before_any_work(tmp_path, kwargs, needle):
    with pytest.raises(audiometric.AudiometricError) as err:
        audiometric.score(tmp_path / "missing", tmp_path / "missing", **{"backbone": "aisfx", **kwargs})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_scorer_reuses_its_networks_and_keeps_no_global_state(sfx, scored, tmp_path, monkeypatch):
    """One Scorer builds each network once across score/embed/stats; its checkpoints stay its own."""
    from audiometric.backbones import lazy
    from audiometric.backbones.weights import resolve_checkpoint

    builds = []
    real_load = lazy.load
    monkeypatch.setattr(lazy, "load", lambda *a, **k: builds.append(a[0]) or real_load(*a, **k))
    scorer = audiometric.Scorer("aisfx", device="cpu", cache=False, workers=0, progress=False)
    first = scorer.score(sfx / "gen", sfx / "ref", metrics="fd,kad")
    again = scorer.score(sfx / "gen", sfx / "ref", metrics="fd")
    scorer.embed(sfx / "gen", tmp_path / "g.npz")
    scorer.stats(sfx / "ref", tmp_path / "r.npz", metrics="fd")
    assert builds == ["aisfx"]  # built on the first clip, reused by every later call
    assert first["fd"].value == again["fd"].value == scored["fd"].value
    # a checkpoint given to one scorer is not seen by the next, nor by plain resolution
    other = tmp_path / "other.pth"
    other.write_bytes(b"x")
    held = audiometric.Scorer("aisfx", checkpoints={"aisfx": other}, device="cpu")
    assert held.options.checkpoints == {"aisfx": str(other)}
    assert audiometric.Scorer("aisfx", device="cpu").options.checkpoints == {}
    assert resolve_checkpoint("aisfx") != other


def _wav_bytes(path: Path) -> bytes:
    """A tiny WAV file's bytes (written to ``path`` first)."""
    import soundfile as sf

    sf.write(path, np.zeros(160, dtype=np.float32), 16000, format="WAV")
    return path.read_bytes()


@pytest.mark.parametrize(
    "call,flag",
    [
        (lambda missing, out: audiometric.embed(missing, out / "x.npz", ["aisfx"]), "output"),
        (lambda missing, out: audiometric.stats(missing, out / "x.npz", "fd", "aisfx"), "output"),
        (lambda missing, out: audiometric.score(missing, missing, "fd", "aisfx", per_clip=out / "x.csv"), "per_clip"),
        (lambda missing, out: audiometric.compare([missing, missing], missing, "fd", report=out / "x.html"), "report"),
    ],
)
def test_api_outputs_follow_the_output_policy(tmp_path, call, flag):
    """An API ``output``/``per_clip``/``report`` over a file of another kind (audio bytes under the output's name)
    is refused before any input is read, and the file is left as it was."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("x.npz", "x.csv", "x.html"):
        _wav_bytes(out / name)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(audiometric.AudiometricError) as err:
        call(tmp_path / "missing", out)
    assert str(err.value).startswith(f"{flag} exists and is not a") and "\n" not in str(err.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_api_output_replaces_another_kind_only_with_overwrite(sfx, tmp_path):
    wav = _wav_bytes(tmp_path / "g.npz")
    with pytest.raises(audiometric.AudiometricError, match="output exists and is not a npz file"):
        audiometric.embed(sfx / "gen", tmp_path / "g.npz", ["aisfx"], cache=False, **QUIET)
    assert (tmp_path / "g.npz").read_bytes() == wav
    with pytest.raises(audiometric.AudiometricError, match="output names an audio file"):  # even with overwrite
        audiometric.embed(sfx / "gen", tmp_path / "g.wav", ["aisfx"], overwrite=True, cache=False, **QUIET)
    arrays = audiometric.embed(sfx / "gen", tmp_path / "g.npz", ["aisfx"], overwrite=True, cache=False, **QUIET)
    assert arrays is not None
    with np.load(tmp_path / "g.npz") as written:
        assert list(written["names"]) == list(arrays["names"])


def test_scorer_names_an_unknown_keyword():
    with pytest.raises(TypeError, match="unknown keyword\\(s\\) devcie; it takes device, "):
        audiometric.Scorer("aisfx", devcie="cpu")
