"""The one output policy (``audiometric/runtime/outputs.py``) and the one-line error policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from audiometric.errors import AudioDecodeError, AudiometricError, DataError, OutputError, exit_status
from audiometric.runtime.outputs import STAMP, check_file, read_stamp, run_folder
from corruptions.errors import ClipTooShortError, PoolError


def test_check_file_refuses_bad_locations(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match="which is a file, not a folder"):
        check_file(tmp_path / "plain" / "sub" / "out.json", "json")
    (tmp_path / "inp").mkdir()
    with pytest.raises(OutputError, match="inside the input"):
        check_file(tmp_path / "inp" / "deep" / "out.npz", "npz", inputs=[tmp_path / "inp"])
    with pytest.raises(OutputError, match="inside the input"):
        check_file(tmp_path / "plain", "txt", inputs=[tmp_path / "plain"])  # the input file itself
    with pytest.raises(OutputError, match="is a folder"):
        check_file(tmp_path / "inp", "json")
    with pytest.raises(OutputError, match="names an audio file.*a .npz name"):
        check_file(tmp_path / "new.WAV", "npz", overwrite=True)
    assert check_file("-", "json", inputs=[tmp_path]).name == "-"
    assert check_file(tmp_path / "new" / "x.json", "json") == (tmp_path / "new" / "x.json").resolve()
    assert not (tmp_path / "new").exists()  # a check writes nothing


def test_check_file_overwrites_only_its_own_kind(tmp_path):
    wav = tmp_path / "clip.npz"  # a WAV renamed: the suffix alone would pass
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28))
    with pytest.raises(OutputError, match="not a npz file.*--overwrite"):
        check_file(wav, "npz")
    assert check_file(wav, "npz", overwrite=True) == wav.resolve()
    npz = tmp_path / "real.npz"
    np.savez(npz, a=np.zeros(2))
    assert check_file(npz, "npz") == npz.resolve()
    (tmp_path / "r.json").write_text(json.dumps({"a": 1}))
    assert check_file(tmp_path / "r.json", "json")
    (tmp_path / "notes.json").write_text("my notes, not JSON")
    with pytest.raises(OutputError, match="not a json file"):
        check_file(tmp_path / "notes.json", "json")
    (tmp_path / "table.csv").write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert check_file(tmp_path / "table.csv", "csv")
    with pytest.raises(OutputError, match="not a csv file"):
        check_file(wav, "csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    assert check_file(tmp_path / "empty.csv", "csv")


def test_run_folder_same_run_resumes_other_run_refused(tmp_path):
    out = tmp_path / "out"
    first = run_folder(out, command="generate", settings={"steps": 2, "seed": 0})
    assert not first.resume and not out.exists()
    first.claim()
    (out / "a.wav").write_bytes(b"x")
    assert run_folder(out, command="generate", settings={"seed": 0, "steps": 2}).resume
    with pytest.raises(OutputError, match=r"with other settings: steps=2 \(now 3\).*--overwrite"):
        run_folder(out, command="generate", settings={"steps": 3, "seed": 0})
    with pytest.raises(OutputError, match="holds the output of `audiometric generate`"):
        run_folder(out, command="datasets export", settings={})
    taken = run_folder(out, command="datasets export", settings={}, overwrite=True)
    assert not taken.resume
    taken.claim()
    assert read_stamp(out)["command"] == "audiometric datasets export" and (out / "a.wav").exists()


def test_run_folder_refuses_unstamped_and_overlapping_folders(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "x.wav").write_bytes(b"x")
    with pytest.raises(OutputError, match=f"not empty.*no {STAMP}"):
        run_folder(user, command="corrupt", settings={})
    with pytest.raises(OutputError, match="inside the input"):
        run_folder(user / "noisy", command="corrupt", settings={}, inputs=[user])
    with pytest.raises(OutputError, match="holds the input"):
        run_folder(tmp_path, command="corrupt", settings={}, inputs=[user])
    (tmp_path / "empty").mkdir()
    assert not run_folder(tmp_path / "empty", command="corrupt", settings={}).resume
    with pytest.raises(OutputError, match="is a file"):
        run_folder(user / "x.wav", command="corrupt", settings={})
    with pytest.raises(OutputError, match="which is a file"):
        run_folder(user / "x.wav" / "out", command="corrupt", settings={})


def test_error_kinds_and_one_line():
    err = AudiometricError("no such file", path="a\nb.wav", fix="pass another")
    assert str(err) == "no such file (a b.wav): pass another" and err.path == "a\nb.wav"
    assert exit_status(err) == 2 and exit_status(OutputError("x")) == 2
    assert exit_status(DataError("x")) == 1 and exit_status(AudioDecodeError("x")) == 1
    assert exit_status(ClipTooShortError("x")) == 1 and exit_status(PoolError("x")) == 2


def test_cli_prints_file_system_errors_on_one_line(monkeypatch):
    from audiometric.cli import main

    def broken(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/x/out.npz")

    monkeypatch.setattr("audiometric.api.stats", broken)
    res = CliRunner().invoke(main, ["stats", "ref", "-o", "out.npz"])
    assert res.exit_code == 2 and res.output == "error: Permission denied (/x/out.npz): check the path\n"

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "/x/out.npz")

    monkeypatch.setattr("audiometric.api.stats", full)
    res = CliRunner().invoke(main, ["stats", "ref", "-o", "out.npz"])
    assert res.exit_code == 2 and "No space left on device (/x/out.npz): free some space" in res.output


@pytest.mark.parametrize(
    "command,flag,target",
    [
        ("stats", "-o", "clip.wav"),  # item 3: an existing WAV is not an npz
        ("embed", "-o", "clip.wav"),
        ("score", "--json", "plain/r.json"),  # item 5: under a regular file, found before the work
        ("score", "--csv", "ref/r.csv"),  # inside an input
        ("score", "--per-clip", "clip.wav"),
    ],
)
def test_output_files_checked_before_any_work(tmp_path, monkeypatch, command, flag, target):
    from audiometric.cli import main

    def work(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    monkeypatch.setattr(f"audiometric.api.{command}", work)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ref").mkdir()
    (tmp_path / "plain").write_text("x")
    (tmp_path / "clip.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28))
    before = (tmp_path / "clip.wav").read_bytes()
    args = ["ref", "ref"] if command == "score" else ["ref"]
    res = CliRunner().invoke(main, [command, *args, flag, target])
    assert res.exit_code == 2 and res.output.startswith(f"error: {flag} ") and res.output.count("\n") == 1, res.output
    assert (tmp_path / "clip.wav").read_bytes() == before
