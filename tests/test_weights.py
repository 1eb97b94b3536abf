"""Weights registry, cache resolution, resumable verified download and weights-only loading.

Downloads are served by a real ``ThreadingHTTPServer`` on 127.0.0.1 whose handler implements
``Range: bytes=N-`` (RFC 9110 14.2) and counts the body bytes it sends.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import socket
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from audiometric.backbones import checkpoint, fetch, weights
from audiometric.backbones.weights import WeightFile
from audiometric.errors import AudiometricError, WeightsError

PAYLOAD = np.random.default_rng(0).bytes(300_000)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


@dataclass
class FileServer:
    """State shared with the HTTP handler: files to serve, and a log of what was asked and sent."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    ignore_range: bool = False
    cut_after: int | None = None  # stop sending after this byte offset (Content-Length stays full)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    bytes_served: int = 0


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            range_header = self.headers.get("Range")
            state.requests.append((path, range_header))
            body = state.files.get(path)
            if body is None:
                self.send_error(404)
                return
            match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
            start = int(match.group(1)) if match and not state.ignore_range else 0
            if start >= len(body) > 0:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if start:
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            chunk = body[start : state.cut_after if state.cut_after is not None else len(body)]
            state.bytes_served += len(chunk)  # counted before sending: the client cannot finish reading first
            self.wfile.write(chunk)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer(files={"/files/tiny.pth": PAYLOAD})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache, no user overrides, network allowed (the tests only reach 127.0.0.1)."""
    home = tmp_path / "home"
    monkeypatch.setenv("AUDIOMETRIC_HOME", str(home))
    monkeypatch.delenv("AUDIOMETRIC_OFFLINE", raising=False)
    for entry in weights.WEIGHTS.values():
        monkeypatch.delenv(entry.env_var, raising=False)
    yield home


@pytest.fixture
def tiny_entry(server: FileServer, monkeypatch: pytest.MonkeyPatch) -> WeightFile:
    """Registry entry 'vggish' pointed at the local server's payload."""
    entry = WeightFile(
        name="vggish",
        filename="tiny.pth",
        url=f"{server.url}/files/tiny.pth?download=1",
        sha256=PAYLOAD_SHA256,
        md5=PAYLOAD_MD5,
    )
    monkeypatch.setitem(weights.WEIGHTS, "vggish", entry)
    return entry


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- registry and cache folder ---------------------------------------------------------------


def test_registry_names_files_urls_and_env_vars() -> None:
    assert {"panns-cnn14-16k", "panns-cnn14-32k", "vggish", "aisfx", "passt", "clap-laion"} <= set(weights.WEIGHTS)
    for name, entry in weights.WEIGHTS.items():
        assert entry.name == name
        assert entry.env_var == "AUDIOMETRIC_CHECKPOINT_" + name.upper().replace("-", "_")
        assert entry.licence, name  # `audiometric backbones` prints it: the card's licence, or that it states none
        if entry.hub is not None:  # a transformers save_pretrained folder (backbones/hf.py)
            assert entry.url == f"https://huggingface.co/{entry.hub}" and "config.json" in entry.files
            assert entry.filename in entry.files
            continue
        located = entry.package or urllib.parse.unquote(urllib.parse.urlsplit(entry.url).path)
        assert located.endswith("/" + entry.filename)
        assert (entry.url is None) == (entry.package is not None)
        assert entry.sha256 is not None and re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
    assert weights.WEIGHTS["panns-cnn14-16k"].env_var == "AUDIOMETRIC_CHECKPOINT_PANNS_CNN14_16K"
    for name in ("panns-cnn14-16k", "panns-cnn14-32k"):
        assert "zenodo.org/record/3987831/" in weights.WEIGHTS[name].url
    # torch.hub convention: the hex digits in the file name are the start of its sha256
    vggish = weights.WEIGHTS["vggish"]
    assert vggish.sha256.startswith(re.search(r"-([0-9a-f]{8})\.pth$", vggish.filename).group(1))


def test_packaged_checkpoint_is_found_verified_and_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aisfx")
    path = weights.resolve_checkpoint("aisfx")
    assert path.name == "checkpoint.pth" and path.parent.parent.name == "aisfx"
    own = tmp_path / "mine.pth"
    own.write_bytes(b"not checked")
    assert weights.resolve_checkpoint("aisfx", own) == own
    tampered = WeightFile(
        name="aisfx",
        filename="checkpoint.pth",
        url=None,
        sha256="0" * 64,
        package="aisfx/models/checkpoint.pth",
        install="pip install --no-deps aisfx==0.1.2",
    )
    monkeypatch.setitem(weights.WEIGHTS, "aisfx", tampered)
    with pytest.raises(WeightsError, match="not the published aisfx checkpoint.*reinstall"):
        weights.resolve_checkpoint("aisfx")


def test_cache_dir_honours_env_and_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert weights.cache_dir() == tmp_path / "home"
    assert weights.weights_dir() == tmp_path / "home" / "weights"
    monkeypatch.delenv("AUDIOMETRIC_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert weights.cache_dir() == tmp_path / "user" / ".cache" / "audiometric"


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    data = PAYLOAD * 5  # several 1 MiB read chunks
    path.write_bytes(data)
    assert weights.sha256_file(path) == hashlib.sha256(data).hexdigest()


# --- download ----------------------------------------------------------------------------------


def test_download_verifies_and_moves_into_place(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "tiny.pth"
    digest = fetch.download(
        f"{server.url}/files/tiny.pth", dest, sha256=PAYLOAD_SHA256, md5=PAYLOAD_MD5, progress=False
    )
    assert digest == PAYLOAD_SHA256
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "out" / "tiny.pth.part").exists()
    assert server.requests == [("/files/tiny.pth", None)]


def test_download_accepts_hub_style_sha256_prefix(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "tiny.pth"
    fetch.download(f"{server.url}/files/tiny.pth", dest, prefix=PAYLOAD_SHA256[:8], progress=False)
    assert dest.read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"sha256": "0" * 64}, "0" * 64),
        ({"md5": "f" * 32}, "f" * 32),
        ({"prefix": f"{(int(PAYLOAD_SHA256[:8], 16) + 1) % 2**32:08x}"}, "starting with"),
    ],
)
def test_download_checksum_mismatch_leaves_nothing(
    server: FileServer, tmp_path: Path, kwargs: dict[str, str], expected: str
) -> None:
    dest = tmp_path / "dl" / "tiny.pth"
    with pytest.raises(WeightsError) as info:
        fetch.download(f"{server.url}/files/tiny.pth", dest, progress=False, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "tiny.pth" in message and expected in message
    actual = PAYLOAD_MD5 if "md5" in kwargs else PAYLOAD_SHA256
    assert actual in message
    assert list(dest.parent.iterdir()) == []


def test_download_resumes_partial_file_with_range(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "tiny.pth"
    half = len(PAYLOAD) // 2
    (tmp_path / "tiny.pth.part").write_bytes(PAYLOAD[:half])
    fetch.download(f"{server.url}/files/tiny.pth", dest, sha256=PAYLOAD_SHA256, progress=False)
    assert server.requests == [("/files/tiny.pth", f"bytes={half}-")]
    assert server.bytes_served == len(PAYLOAD) - half
    assert dest.read_bytes() == PAYLOAD


def test_download_restarts_when_server_ignores_range(server: FileServer, tmp_path: Path) -> None:
    server.ignore_range = True
    dest = tmp_path / "tiny.pth"
    half = len(PAYLOAD) // 2
    (tmp_path / "tiny.pth.part").write_bytes(b"x" * half)  # would corrupt the file if appended to
    fetch.download(f"{server.url}/files/tiny.pth", dest, sha256=PAYLOAD_SHA256, progress=False)
    assert server.requests == [("/files/tiny.pth", f"bytes={half}-")]
    assert server.bytes_served == len(PAYLOAD)
    assert dest.read_bytes() == PAYLOAD


def test_download_restarts_when_partial_file_is_too_long(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "tiny.pth"
    (tmp_path / "tiny.pth.part").write_bytes(b"x" * (len(PAYLOAD) + 10))
    fetch.download(f"{server.url}/files/tiny.pth", dest, sha256=PAYLOAD_SHA256, progress=False)
    assert server.requests == [("/files/tiny.pth", f"bytes={len(PAYLOAD) + 10}-"), ("/files/tiny.pth", None)]
    assert dest.read_bytes() == PAYLOAD


def test_interrupted_download_keeps_part_then_resumes(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "tiny.pth"
    part = tmp_path / "tiny.pth.part"
    server.cut_after = 100_000
    with pytest.raises(WeightsError) as info:
        fetch.download(f"{server.url}/files/tiny.pth", dest, sha256=PAYLOAD_SHA256, progress=False)
    message = str(info.value)
    assert "\n" not in message and "resume" in message and f"100000 of {len(PAYLOAD)}" in message
    assert part.read_bytes() == PAYLOAD[:100_000] and not dest.exists()
    server.cut_after = None
    served_before = server.bytes_served
    fetch.download(f"{server.url}/files/tiny.pth", dest, sha256=PAYLOAD_SHA256, progress=False)
    assert server.requests[-1] == ("/files/tiny.pth", "bytes=100000-")
    assert server.bytes_served - served_before == len(PAYLOAD) - 100_000
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_offline_error_is_one_line_naming_file_url_and_target(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/files/tiny.pth"
    monkeypatch.setitem(
        weights.WEIGHTS, "vggish", WeightFile(name="vggish", filename="tiny.pth", url=url, sha256=PAYLOAD_SHA256)
    )
    with pytest.raises(WeightsError) as info:
        weights.resolve_checkpoint("vggish")
    message = str(info.value)
    target = weights.weights_dir() / "tiny.pth"
    assert "\n" not in message
    for part in ("tiny.pth", url, str(target), "AUDIOMETRIC_CHECKPOINT_VGGISH=", "--checkpoint vggish="):
        assert part in message
    assert not target.exists()


def test_offline_flag_skips_the_network(
    server: FileServer, tiny_entry: WeightFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIOMETRIC_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        weights.resolve_checkpoint("vggish")
    assert "AUDIOMETRIC_OFFLINE" in str(info.value) and tiny_entry.url in str(info.value)
    assert server.requests == []


def test_download_from_file_url_even_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOMETRIC_OFFLINE", "1")
    source = tmp_path / "mirror" / "tiny file.pth"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "tiny.pth"
    assert fetch.download(source.as_uri(), dest, sha256=PAYLOAD_SHA256, progress=False) == PAYLOAD_SHA256
    assert dest.read_bytes() == PAYLOAD


def test_http_error_is_reported_with_status(server: FileServer, tmp_path: Path) -> None:
    url = f"{server.url}/files/missing.pth"
    with pytest.raises(WeightsError, match="HTTP 404") as info:
        fetch.download(url, tmp_path / "missing.pth", progress=False)
    assert url in str(info.value) and str(tmp_path / "missing.pth") in str(info.value)


# --- resolve_checkpoint ------------------------------------------------------------------------


def test_resolve_downloads_once_then_uses_verified_cache(server: FileServer, tiny_entry: WeightFile) -> None:
    path = weights.resolve_checkpoint("vggish")
    assert path == weights.weights_dir() / "tiny.pth" and path.read_bytes() == PAYLOAD
    assert len(server.requests) == 1
    assert weights.resolve_checkpoint("vggish") == path
    assert len(server.requests) == 1


def test_cached_file_with_wrong_digest_is_rejected(server: FileServer, tiny_entry: WeightFile) -> None:
    cached = weights.weights_dir() / "tiny.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(PAYLOAD[:-1] + b"!")
    with pytest.raises(WeightsError) as info:
        weights.resolve_checkpoint("vggish")
    message = str(info.value)
    assert "\n" not in message and str(cached) in message and "delete" in message
    assert PAYLOAD_SHA256 in message and hashlib.sha256(cached.read_bytes()).hexdigest() in message
    assert server.requests == []


def test_override_precedence(tiny_entry: WeightFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, env = (tmp_path / f"{tag}.pth" for tag in ("explicit", "env"))
    for path in (explicit, env):
        path.write_bytes(b"user-supplied weights, not checked against the registry")
    cached = weights.weights_dir() / "tiny.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(PAYLOAD)
    monkeypatch.setenv("AUDIOMETRIC_CHECKPOINT_VGGISH", str(env))
    assert weights.resolve_checkpoint("vggish", str(explicit)) == explicit
    assert weights.resolve_checkpoint("vggish") == env
    monkeypatch.delenv("AUDIOMETRIC_CHECKPOINT_VGGISH")
    assert weights.resolve_checkpoint("vggish") == cached


@pytest.mark.parametrize("how", ["argument", "env"])
def test_missing_user_checkpoint_is_named(how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / "cnn14.pth"
    override = None
    if how == "argument":
        override = str(missing)
    else:
        monkeypatch.setenv("AUDIOMETRIC_CHECKPOINT_PANNS_CNN14_16K", str(missing))
    with pytest.raises(WeightsError) as info:
        weights.resolve_checkpoint("panns-cnn14-16k", override)
    assert "\n" not in str(info.value) and str(missing) in str(info.value)


def test_unknown_names_list_the_valid_ones() -> None:
    for call in (lambda: weights.checkpoint_map({"cnn14": "/x.pth"}), lambda: weights.resolve_checkpoint("cnn14")):
        with pytest.raises(AudiometricError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and "'cnn14'" in message
        assert all(name in message for name in weights.WEIGHTS)


def test_parse_override() -> None:
    assert weights.parse_override("panns-cnn14-32k=/w/Cnn14_mAP=0.431.pth") == (
        "panns-cnn14-32k",
        "/w/Cnn14_mAP=0.431.pth",
    )
    for bad in ("vggish", "=/w/x.pth", "vggish=", "cnn14=/w/x.pth"):
        with pytest.raises(WeightsError) as info:
            weights.parse_override(bad)
        assert "\n" not in str(info.value) and "vggish" in str(info.value)


# --- load_checkpoint ---------------------------------------------------------------------------


def _cnn14_like() -> dict[str, object]:
    """Shape of a PANNs training checkpoint: DataParallel state_dict, iteration, numpy sampler state."""
    rng = np.random.RandomState(1234)
    return {
        "iteration": 560000,
        "model": OrderedDict(
            [
                ("module.conv_block1.conv1.weight", torch.randn(4, 1, 3, 3)),
                ("module.bn0.num_batches_tracked", torch.tensor(7)),
                ("module.fc_audioset.bias", torch.randn(5)),
            ]
        ),
        "sampler": {
            "indexes_per_class": [np.arange(5, dtype=np.int64), np.array([3, 1], dtype=np.int32), np.array([])],
            "queue": [np.int64(3), np.int64(0), 4],
            "pointers_of_classes": [0, np.int64(2)],
            "weights": np.linspace(0.0, 1.0, 6, dtype=np.float32),
            "mask": np.array([True, False]),
            "names": np.array(["a", "bc"]),
            "random_state": rng.get_state(),
        },
    }


def _assert_same(loaded: object, original: object) -> None:
    if isinstance(original, dict):
        assert isinstance(loaded, dict) and list(loaded) == list(original)
        for key in original:
            _assert_same(loaded[key], original[key])
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original) and len(loaded) == len(original)
        for a, b in zip(loaded, original, strict=True):
            _assert_same(a, b)
    elif isinstance(original, torch.Tensor):
        assert loaded.device.type == "cpu" and torch.equal(loaded, original)
    elif isinstance(original, (np.ndarray, np.generic)):
        assert type(loaded) is type(original) and loaded.dtype == original.dtype
        np.testing.assert_array_equal(loaded, original)
    else:
        assert type(loaded) is type(original) and loaded == original


def test_load_checkpoint_cnn14_like_saved_from_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = _cnn14_like()
    path = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    with monkeypatch.context() as patch:  # tag every storage as CUDA, like a checkpoint saved on a GPU
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(original, path)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    loaded = checkpoint.load_checkpoint(path)
    _assert_same(loaded, original)
    assert list(weights.strip_module_prefix(loaded["model"])) == [
        "conv_block1.conv1.weight",
        "bn0.num_batches_tracked",
        "fc_audioset.bias",
    ]


def test_load_checkpoint_accepts_numpy1_module_names(tmp_path: Path) -> None:
    """Checkpoints pickled under numpy 1 name ``numpy.core.multiarray``; numpy 2 calls it ``numpy._core``."""
    original = _cnn14_like()
    path = tmp_path / "old.pth"
    torch.save(original, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    spellings = (b"cnumpy.core.multiarray\n", b"cnumpy._core.multiarray\n")  # protocol-2 GLOBAL opcodes
    installed = next(spelling for spelling in spellings if spelling in data)
    for spelling in spellings:
        path.write_bytes(data.replace(installed, spelling))
        _assert_same(checkpoint.load_checkpoint(path), original)


def test_load_checkpoint_reads_the_aisfx_package_checkpoint() -> None:
    spec = importlib.util.find_spec("aisfx")
    if spec is None or spec.origin is None:
        pytest.skip("aisfx is not installed")
    path = Path(spec.origin).parent / "models" / "checkpoint.pth"
    state, classes = checkpoint.load_checkpoint(path)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    assert state["embedding_net.conv_block1.conv1.weight"].ndim == 4
    indices = [value[0] for value in classes.values()]
    assert all(isinstance(index, np.integer) for index in indices)
    assert sorted(int(index) for index in indices) == list(range(len(indices)))


class _MakesDirectory:
    """Unpickling this would call ``os.mkdir`` (an arbitrary callable named by the pickle)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (self.target,)


class _Opaque:
    """A class outside the allowlist, pickled by reference to this test module."""

    def __init__(self) -> None:
        self.value = 3


@pytest.mark.parametrize(("make", "global_name"), [("mkdir", "mkdir"), ("opaque", "_Opaque")])
def test_load_checkpoint_refuses_unlisted_globals(tmp_path: Path, make: str, global_name: str) -> None:
    marker = tmp_path / "side-effect"
    payload = _MakesDirectory(str(marker)) if make == "mkdir" else _Opaque()
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(2)}, "extra": payload}, path)
    with pytest.raises(WeightsError) as info:
        checkpoint.load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and global_name in message and "refusing" in message
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["text", "truncated", "empty"])
def test_load_checkpoint_rejects_damaged_files(tmp_path: Path, damage: str) -> None:
    path = tmp_path / f"{damage}.pth"
    torch.save({"w": torch.arange(1000.0)}, path)
    data = path.read_bytes()
    damaged = {"text": b"<html>rate limited</html>\n", "truncated": data[: len(data) // 2], "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises(WeightsError) as info:
        checkpoint.load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "not a readable PyTorch checkpoint" in message


def test_load_checkpoint_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        checkpoint.load_checkpoint(tmp_path / "absent.pth")


def _count_hashing(monkeypatch) -> list[Path]:
    """Record every file the digest memo actually hashes; forget this process's memory (a new run)."""
    from audiometric.backbones import digests

    hashed: list[Path] = []
    real = digests.file_digests

    def counting(path, *algorithms):
        hashed.append(Path(path))
        return real(path, *algorithms)

    monkeypatch.setattr(digests, "file_digests", counting)
    monkeypatch.setattr(digests, "_memory", {})
    return hashed


def test_digest_is_remembered_across_runs_until_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ckpt.pth"
    path.write_bytes(b"first bytes")
    hashed = _count_hashing(monkeypatch)
    first = weights.sha256_file(path)
    assert first == hashlib.sha256(b"first bytes").hexdigest() and hashed == [path]
    hashed = _count_hashing(monkeypatch)  # a later process: same (path, size, mtime) -> no re-hash
    assert weights.sha256_file(path) == first and hashed == []
    stored = json.loads((weights.cache_dir() / "digests.json").read_text())
    assert stored[str(path.resolve())]["sha256"] == first

    stat = path.stat()
    path.write_bytes(b"other bytes")  # same size, new contents, mtime set back: ctime still moves
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.sha256_file(path) == hashlib.sha256(b"other bytes").hexdigest() and hashed == [path]
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # mtime alone changed: re-hashed
    weights.sha256_file(path)
    assert hashed == [path, path]


def test_verified_cached_checkpoint_is_not_rehashed(monkeypatch) -> None:
    data = b"a verified checkpoint"
    entry = weights.WeightFile(
        name="panns-cnn14-16k", filename="x.pth", url="file:///nowhere", sha256=hashlib.sha256(data).hexdigest()
    )
    monkeypatch.setitem(weights.WEIGHTS, entry.name, entry)
    (weights.weights_dir()).mkdir(parents=True, exist_ok=True)
    (weights.weights_dir() / "x.pth").write_bytes(data)
    hashed = _count_hashing(monkeypatch)
    weights.resolve_checkpoint(entry.name)
    hashed = _count_hashing(monkeypatch)
    assert weights.resolve_checkpoint(entry.name) == weights.weights_dir() / "x.pth" and hashed == []


def test_unwritable_digest_store_still_hashes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AUDIOMETRIC_HOME", str(tmp_path / "file-not-dir"))
    (tmp_path / "file-not-dir").write_text("")
    path = tmp_path / "ckpt.pth"
    path.write_bytes(b"x")
    assert weights.sha256_file(path) == hashlib.sha256(b"x").hexdigest()


def test_concurrent_loads_keep_the_numpy_allow_list(tmp_path: Path) -> None:
    """Two networks loading at once (background threads): neither sees the other's context restore torch's
    allow-list mid-load."""
    path = tmp_path / "with_numpy.pth"
    torch.save({"model": {"w": torch.zeros(2)}, "sampler": {"queue": np.arange(400)}}, path)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            for _ in range(20):
                checkpoint.load_checkpoint(path)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
