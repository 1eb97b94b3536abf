"""Listing, decoding and preprocessing of audio files, including every kind of bad input."""

import json
import os

import numpy as np
import pytest
import soundfile as sf
from conftest import write_wav

from audiometric.audio import decode as decode_module
from audiometric.audio.decode import header, load, sha256_of
from audiometric.audio.preprocess import Preprocess, compat_fad, list_audio_files
from audiometric.errors import AudioDecodeError, AudiometricError


def _view(path, pre=Preprocess(), **kwargs):
    return load(path, [pre], **kwargs).views[pre]


def _old_float_view(path, channels="first"):
    """The previous whole-file path: ``sf.read(float32)``, channels first, then channel 0 or the float32 mean."""
    audio = np.ascontiguousarray(sf.read(path, dtype="float32", always_2d=True)[0].T)
    return audio[0] if channels == "first" else audio.mean(axis=0, dtype=np.float32)


@pytest.mark.parametrize(
    "fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_24"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")]
)
def test_formats_decode_to_float32(tmp_path, fmt, subtype):
    rate = 16000 if fmt != "mp3" else 44100
    x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    path = tmp_path / f"a.{fmt}"
    sf.write(path, x, rate, subtype=subtype, format=fmt.upper())
    loaded = load(path, [Preprocess(remove_dc=False)])
    mono = loaded.views[Preprocess(remove_dc=False)]
    assert mono.dtype == np.float32 and mono.ndim == 1 and loaded.info.channels == 1
    assert loaded.info.sample_rate == rate and loaded.sha256 == sha256_of(path)
    assert 0.3 < np.abs(mono).max() < 0.6


def test_pcm16_matches_int_over_32768(tmp_path):
    ints = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    path = tmp_path / "i.wav"
    sf.write(path, ints, 8000, subtype="PCM_16")
    np.testing.assert_array_equal(_view(path, Preprocess(remove_dc=False)), ints.astype(np.float32) / 32768)


@pytest.mark.parametrize(
    "fmt,subtype",
    [
        ("WAV", "PCM_16"),
        ("WAV", "PCM_24"),
        ("WAV", "PCM_32"),
        ("WAV", "PCM_U8"),
        ("FLAC", "PCM_24"),
        ("AIFF", "PCM_S8"),
        ("WAV", "FLOAT"),
    ],
)
def test_blockwise_views_equal_the_whole_file_reads(tmp_path, monkeypatch, fmt, subtype):
    """Float views equal libsndfile's float read; int16 views equal ``read(dtype="int16") / 32768``, any block size."""
    rng = np.random.default_rng(5)
    x = np.clip(0.4 * rng.standard_normal((20011, 3)), -1, 1)
    x[:50] = 1.0
    path = tmp_path / f"s.{fmt.lower()}"
    sf.write(path, x, 22050, format=fmt, subtype=subtype)
    first, mean = Preprocess(remove_dc=False), Preprocess(channels="mean", remove_dc=False)
    compat = compat_fad(Preprocess())
    whole = load(path, [first, mean, compat]).views
    monkeypatch.setattr(decode_module, "BLOCK_FRAMES", 777)
    blocks = load(path, [first, mean, compat]).views
    for view in (first, mean, compat):
        np.testing.assert_array_equal(blocks[view], whole[view])
    np.testing.assert_array_equal(whole[first], _old_float_view(path))
    np.testing.assert_array_equal(whole[mean], _old_float_view(path, "mean"))
    assert whole[compat].dtype == np.float64  # the mean of three int16 channels is not exact in float32
    if subtype != "FLOAT":  # audioldm_eval load_audio_task: int16 read / 32768.0, np.mean(axis=1)
        expected = np.mean(sf.read(path, dtype="int16")[0] / 32768.0, axis=1)
        np.testing.assert_array_equal(whole[compat], expected)
    else:  # not imitated: the float samples, channel mean in float64
        np.testing.assert_allclose(whole[compat], np.mean(sf.read(path)[0], axis=1), atol=1e-7)


def test_stereo_int16_view_is_stored_exactly_in_float32(tmp_path):
    x = np.random.default_rng(1).uniform(-1, 1, (5000, 2))
    path = tmp_path / "st.wav"
    sf.write(path, x, 48000, subtype="PCM_16")
    view = _view(path, compat_fad(Preprocess()))
    assert view.dtype == np.float32
    np.testing.assert_array_equal(view.astype(np.float64), np.mean(sf.read(path, dtype="int16")[0] / 32768.0, axis=1))


def test_max_seconds_reads_only_the_frames_it_keeps(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "long.wav", np.zeros((48000, 2), np.float32), 16000)
    requested = []
    original = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        out = original(self, frames, *args, **kwargs)
        requested.append(len(out))
        return out

    monkeypatch.setattr(sf.SoundFile, "read", counting)
    monkeypatch.setattr(decode_module, "BLOCK_FRAMES", 4096)
    loaded = load(path, [Preprocess(max_seconds=0.5)])
    assert sum(requested) == 8000 and loaded.frames == 8000 and loaded.length == 48000  # Clip.seconds: the file's
    assert loaded.views[Preprocess(max_seconds=0.5)].shape == (8000,)


def test_channel_policies_and_dc(tmp_path):
    rate = 8000
    left = np.full(rate, 0.25, dtype=np.float32)
    right = np.linspace(-0.5, 0.5, rate, dtype=np.float32)
    third = np.zeros(rate, dtype=np.float32)
    path = write_wav(tmp_path / "multi.wav", np.stack([left, right, third], 1), rate, "FLOAT")
    first, mean = Preprocess(channels="first", remove_dc=False), Preprocess(channels="mean", remove_dc=False)
    loaded = load(path, [first, mean, Preprocess(), Preprocess(max_seconds=0.5)])
    assert loaded.info.channels == 3
    np.testing.assert_array_equal(loaded.views[first], left)
    np.testing.assert_allclose(loaded.views[mean], (left + right + third) / 3, atol=1e-7)
    centred = loaded.views[Preprocess()]
    assert abs(float(centred.mean())) < 1e-7 and np.allclose(centred, 0)
    assert loaded.views[Preprocess(max_seconds=0.5)].shape == (rate // 2,)


def test_unusable_files_raise_one_line(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"this is not audio at all" * 10)
    for name, reason in (("empty.wav", "empty file"), ("junk.wav", "cannot decode")):
        with pytest.raises(AudioDecodeError, match=reason) as err:
            _view(tmp_path / name)
        assert "\n" not in str(err.value)


def test_image_reason_names_the_format_not_an_object(tmp_path):
    png = tmp_path / "cover.wav"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    for call in (lambda: _view(png), lambda: header(png)):
        with pytest.raises(AudioDecodeError) as err:
            call()
        assert str(err.value) == "not a recognised audio format (PNG image)"
    (tmp_path / "x.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(AudioDecodeError) as err:
        _view(tmp_path / "x.wav")
    assert "0x" not in str(err.value) and "Error opening" not in str(err.value) and str(tmp_path) not in str(err.value)


def test_cut_header_zero_length_and_nan(tmp_path):
    good = write_wav(tmp_path / "g.wav", np.zeros(1600, np.float32), 16000)
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioDecodeError):
        _view(tmp_path / "cut.wav")  # header cut in half
    empty = write_wav(tmp_path / "e.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioDecodeError, match="zero-length"):
        _view(empty)
    bad = np.zeros(1600, np.float32)
    bad[10] = np.nan
    nan = write_wav(tmp_path / "n.wav", bad, 16000, "FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN"):
        _view(nan)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("MP3", "MPEG_LAYER_III")])
def test_truncated_mid_data_is_a_skip_naming_both_lengths(tmp_path, fmt, subtype):
    rate = 44100
    x = 0.3 * np.random.default_rng(0).standard_normal((3 * rate, 2))
    full = tmp_path / f"full.{fmt.lower()}"
    sf.write(full, x, rate, format=fmt, subtype=subtype)
    assert load(full, [Preprocess()]).notes == []
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(AudioDecodeError, match="--allow-truncated") as err:
        load(cut, [Preprocess()])
    message = str(err.value)
    assert message.startswith(f"truncated: the header promises {3 * rate} frames (3.000 s), ")
    decoded = int(message.split("), ")[1].split(" decoded")[0])
    assert 0 < decoded < 2 * rate and "\n" not in message
    allowed = load(cut, [Preprocess()], allow_truncated=True)
    assert allowed.frames == decoded and allowed.views[Preprocess()].shape == (decoded,)
    assert any(note.startswith("truncated") and "--allow-truncated" in note for note in allowed.notes)
    if fmt == "MP3":  # libmpg123's own complaint, printed on stderr, is captured to be reported with the file
        assert any("Xing stream size" in note for note in allowed.notes)


def test_max_seconds_inside_the_decoded_part_is_not_truncation(tmp_path):
    full = write_wav(tmp_path / "f.wav", np.zeros(32000, np.float32), 16000)
    cut = tmp_path / "c.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 2 * 20000])
    assert load(cut, [Preprocess(max_seconds=1.0)]).frames == 16000
    with pytest.raises(AudioDecodeError, match="truncated"):
        load(cut, [Preprocess(max_seconds=1.5)])


def test_silence_and_extreme_rates_are_valid(tmp_path):
    for rate in (8000, 96000):
        path = write_wav(tmp_path / f"s{rate}.wav", np.zeros(rate // 20, np.float32), rate)
        loaded = load(path, [Preprocess()])
        assert loaded.info.sample_rate == rate and not loaded.views[Preprocess()].any()


def test_listing_walks_sub_folders_and_names_every_entry(tmp_path):
    write_wav(tmp_path / "b.wav", np.zeros(100, np.float32), 8000)
    write_wav(tmp_path / "ä ü ñ 音.wav", np.zeros(100, np.float32), 8000)
    write_wav(tmp_path / "a" / "x.wav", np.zeros(100, np.float32), 8000)
    write_wav(tmp_path / "a" / "deeper" / "y.flac", np.zeros(100, np.float32), 8000)
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "mine.json").write_text('{"run": "my own"}')
    (tmp_path / ".hidden.wav").write_bytes(b"x")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "z.wav").write_bytes(b"x")
    (tmp_path / "manifest.json").write_text(json.dumps({"run": {"kind": "corruption", "audiometric_version": "0"}}))
    (tmp_path / "result.json").write_text(json.dumps({"audiometric": "0", "metrics": {}}))
    (tmp_path / "result.csv").write_text("metric,value,std\nfd,1.0,\n")
    os.symlink(tmp_path / "b.wav", tmp_path / "link.wav")
    os.symlink(tmp_path / "missing.wav", tmp_path / "dangling.wav")
    listing = list_audio_files(tmp_path)
    assert [listing.name(f) for f in listing.files] == [
        "a/deeper/y.flac",
        "a/x.wav",
        "b.wav",
        "link.wav",
        "ä ü ñ 音.wav",
    ]
    skipped = {listing.name(p): r for p, r in listing.skipped}
    assert set(skipped) == {"dangling.wav", "mine.json", "notes.txt"}
    assert "dangling" in skipped["dangling.wav"] and "extension" in skipped["notes.txt"]
    ignored = {listing.name(p): r for p, r in listing.ignored}
    assert set(ignored) == {".cache", ".hidden.wav", "manifest.json", "result.csv", "result.json"}
    assert "hidden folder" in ignored[".cache"] and "corrupt" in ignored["manifest.json"]


def test_listing_errors(tmp_path):
    with pytest.raises(AudiometricError, match="not found"):
        list_audio_files(tmp_path / "nope")
    with pytest.raises(AudiometricError, match="no audio files"):
        list_audio_files(tmp_path)
    f = write_wav(tmp_path / "x.wav", np.zeros(10, np.float32), 8000)
    with pytest.raises(AudiometricError, match="not a directory"):
        list_audio_files(f)


def test_unreadable_file(tmp_path, monkeypatch):
    f = write_wav(tmp_path / "x.wav", np.zeros(10, np.float32), 8000)

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(decode_module, "file_digests", deny)
    with pytest.raises(AudioDecodeError, match="cannot read file \\(Permission denied\\)"):
        load(f, [Preprocess()])


def test_dc_removal_is_bit_identical_to_the_reference_expression(tmp_path):
    """audioldm_eval: ``audio = audio[0:1]; audio = audio - audio.mean()`` on a float32 torch tensor."""
    import torch

    rng = np.random.default_rng(3)
    stereo = (0.3 * rng.standard_normal((44101, 2)) + 0.05).astype(np.float32)
    path = write_wav(tmp_path / "s.wav", stereo, 44100, "FLOAT")
    reference = torch.from_numpy(np.ascontiguousarray(sf.read(path, dtype="float32", always_2d=True)[0].T))[0:1]
    reference = (reference - reference.mean())[0].numpy()
    np.testing.assert_array_equal(_view(path), reference)


def test_in_memory_decode_of_short_clips_keeps_clean_reasons(tmp_path):
    from audiometric.audio.decode import decode, read_and_hash

    path = write_wav(tmp_path / "s.wav", np.stack([np.full(800, 0.25), np.zeros(800)], 1).astype(np.float32), 8000)
    decoded = decode(*read_and_hash(path))
    assert decoded.audio.shape == (2, 800) and decoded.sample_rate == 8000 and decoded.sha256 == sha256_of(path)
    with pytest.raises(AudioDecodeError) as err:
        decode(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert str(err.value) == "not a recognised audio format (PNG image)"
    with pytest.raises(AudioDecodeError) as err:
        decode(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    assert "BytesIO" not in str(err.value) and "0x" not in str(err.value)
