"""Pretrained weights: the WEIGHTS table, the cache folder, resolution and verification of checkpoints.

Downloading is ``fetch.py``; safe loading is ``checkpoint.py``.

Checkpoints are looked up in this order (``resolve_checkpoint``): an explicit path passed by the
caller (``--checkpoint NAME=PATH``, the API's ``checkpoints``), the entry's environment variable
(``AUDIOMETRIC_CHECKPOINT_<NAME>``), the verified copy in ``<cache_dir>/weights/``, and finally a
download from the published URL. Files are only ever loaded with ``torch.load(weights_only=True)``.

Digests are remembered per file identity (``digests.py``), so a verified checkpoint is hashed once, not
on every run; this module imports torch only to load a checkpoint.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audiometric.backbones.digests import DigestMemo
from audiometric.errors import WeightsError

if TYPE_CHECKING:
    import torch


@dataclass(kw_only=True, frozen=True)
class WeightFile:
    """One published checkpoint: where it comes from and how to recognise it.

    ``sha256``/``md5`` are the lowercase hex digests stated publicly for the file (None if unknown);
    ``env_var`` is derived from ``name`` (upper-cased, ``-`` -> ``_``). A checkpoint shipped inside a
    Python distribution names it in ``package`` (``"pkg/relative/path"``, found without importing the
    package) and the command that installs it in ``install``, instead of a download ``url``. A
    transformers model is a ``save_pretrained`` folder: ``hub`` is its Hugging Face id and ``files`` the
    files that folder holds (``backbones/hf.py`` resolves it). ``licence`` is the one its model card states, or
    says plainly that the card states none.
    """

    name: str
    filename: str
    url: str | None
    sha256: str | None
    md5: str | None = None
    package: str | None = None
    install: str | None = None
    hub: str | None = None
    files: tuple[str, ...] = ()
    licence: str | None = None
    env_var: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "env_var", "AUDIOMETRIC_CHECKPOINT_" + self.name.upper().replace("-", "_"))


# Digests: the md5 values are those Zenodo record 3987831 publishes for each file; the sha256 values are
# pinned for the same files by several independent public projects (some noting that their copy matched
# Zenodo's md5). The VGGish name follows torch.hub's rule: its 8 hex digits are the start of its sha256.
WEIGHTS: dict[str, WeightFile] = {
    entry.name: entry
    for entry in (
        WeightFile(
            name="panns-cnn14-16k",
            filename="Cnn14_16k_mAP=0.438.pth",
            url="https://zenodo.org/record/3987831/files/Cnn14_16k_mAP%3D0.438.pth?download=1",
            sha256="e2ee543a27919542c2ea03eabaa70b24dcd4e6c8e05621de6b67a94e4c5058e6",
            md5="362fc5ff18f1d6ad2f6d464b45893f2c",
            licence="CC-BY-4.0",
        ),
        WeightFile(
            name="panns-cnn14-32k",
            filename="Cnn14_mAP=0.431.pth",
            url="https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1",
            sha256="0dc499e40e9761ef5ea061ffc77697697f277f6a960894903df3ada000e34b31",
            md5="541141fa2ee191a88f24a3219fff024e",
            licence="CC-BY-4.0",
        ),
        WeightFile(
            name="vggish",
            filename="vggish-10086976.pth",
            url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
            sha256="10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b",
            licence="Apache-2.0",
        ),
        WeightFile(  # the digest of the file in the aisfx 0.1.2 wheel on PyPI (CC BY 4.0)
            name="aisfx",
            filename="checkpoint.pth",
            url=None,
            sha256="499ea75909c932a2f94c35fa722fa4fabc5bcb7e84917209cc5f7402627b7eb5",
            package="aisfx/models/checkpoint.pth",
            install="pip install --no-deps aisfx==0.1.2",
            licence="CC-BY-4.0",
        ),
        WeightFile(  # model card: huggingface.co/laion/clap-htsat-unfused (pickled weights only, no safetensors)
            name="clap-laion",
            filename="pytorch_model.bin",
            url="https://huggingface.co/laion/clap-htsat-unfused",
            sha256=None,
            hub="laion/clap-htsat-unfused",
            files=(
                "config.json",
                "pytorch_model.bin",
                "preprocessor_config.json",
                "vocab.json",
                "merges.txt",
                "tokenizer_config.json",
                "special_tokens_map.json",
            ),
            licence="Apache-2.0",
        ),
        WeightFile(  # model card: huggingface.co/MIT/ast-finetuned-audioset-10-10-0.4593
            name="ast-audioset",
            filename="model.safetensors",
            url="https://huggingface.co/MIT/ast-finetuned-audioset-10-10-0.4593",
            sha256=None,
            hub="MIT/ast-finetuned-audioset-10-10-0.4593",
            files=("config.json", "model.safetensors", "preprocessor_config.json"),
            licence="BSD-3-Clause",
        ),
        WeightFile(  # model card: huggingface.co/facebook/encodec_24khz (its front matter has no licence)
            name="encodec-24k",
            filename="model.safetensors",
            url="https://huggingface.co/facebook/encodec_24khz",
            sha256=None,
            hub="facebook/encodec_24khz",
            files=("config.json", "model.safetensors", "preprocessor_config.json"),
            licence="not stated on the model card (facebookresearch/encodec's code: MIT)",
        ),
        WeightFile(  # model card: huggingface.co/descript/dac_44khz (its tags carry no licence)
            name="dac-44k",
            filename="model.safetensors",
            url="https://huggingface.co/descript/dac_44khz",
            sha256=None,
            hub="descript/dac_44khz",
            files=("config.json", "model.safetensors", "preprocessor_config.json"),
            licence="not stated on the model card",
        ),
        WeightFile(  # model card: huggingface.co/microsoft/wavlm-base-plus (no licence tag; text links UniSpeech's)
            name="wavlm-base-plus",
            filename="pytorch_model.bin",
            url="https://huggingface.co/microsoft/wavlm-base-plus",
            sha256=None,
            hub="microsoft/wavlm-base-plus",
            files=("config.json", "pytorch_model.bin", "preprocessor_config.json"),
            licence="not stated on the model card (it links microsoft/UniSpeech's LICENSE file)",
        ),
        WeightFile(  # PaSST's v0.0.1-audioset release; sha256 pinned alike by several public projects; no model
            # card: the licence is the one the hear21passt 0.0.26 package declares
            name="passt",
            filename="passt-s-f128-p16-s10-ap.476-swa.pt",
            url="https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt",
            sha256="302903fa8c4aee817b11dc982da0b29aaf8d11a3e722420476d0a12c9db70c2c",
            licence="Apache-2.0",
        ),
    )
}


def cache_dir() -> Path:
    """Root of audiometric's cache: ``$AUDIOMETRIC_HOME`` or ``~/.cache/audiometric``."""
    home = os.environ.get("AUDIOMETRIC_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "audiometric"


def weights_dir() -> Path:
    """Folder holding downloaded checkpoints: ``<cache_dir>/weights``."""
    return cache_dir() / "weights"


def _entry(name: str) -> WeightFile:
    if name not in WEIGHTS:
        raise WeightsError(f"unknown checkpoint name '{name}'; valid names: {', '.join(sorted(WEIGHTS))}")
    return WEIGHTS[name]


def parse_override(text: str) -> tuple[str, str]:
    """Split a CLI ``NAME=PATH`` value into ``(name, path)``; the path may itself contain ``=``."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise WeightsError(
            f"--checkpoint expects NAME=PATH (e.g. vggish=/data/vggish-10086976.pth), got '{text}'; "
            f"valid names: {', '.join(sorted(WEIGHTS))}"
        )
    _entry(name)
    return name, path


def checkpoint_map(values: Iterable[str] | Mapping[str, str | Path] | None) -> dict[str, str]:
    """``--checkpoint NAME=PATH`` values (or a name -> path mapping) as a checked ``{name: path}`` dict."""
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return {_entry(name).name: str(Path(path).expanduser()) for name, path in values.items()}
    return dict(parse_override(v) for v in values)


def sha256_file(path: str | Path) -> str:
    """Lowercase hex SHA-256 of a file, read in 1 MiB chunks; of a ``save_pretrained`` folder, see ``hf.py``."""
    path = Path(path)
    if path.is_dir():
        from audiometric.backbones.hf import folder_digest

        return folder_digest(path, lambda file: _digests(file)[0])
    return _digests(path)[0]


def _memo() -> DigestMemo:
    """Checkpoint digests remembered in ``<cache_dir>/digests.json``."""
    return DigestMemo(cache_dir() / "digests.json")


def _digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) hex digests of ``path``, hashed only when the file changed since last time."""
    return _memo().digests(path)


def _mismatch(path: Path, sha256: str | None, md5: str | None, prefix: str | None) -> str | None:
    """Describe how ``path`` differs from the expected digests, or None when it matches them all."""
    actual_sha, actual_md5 = _digests(path)
    if sha256 is not None and actual_sha != sha256.lower():
        return f"sha256 {actual_sha}, expected {sha256.lower()}"
    if md5 is not None and actual_md5 != md5.lower():
        return f"md5 {actual_md5}, expected {md5.lower()}"
    if prefix is not None and not actual_sha.startswith(prefix.lower()):
        return f"sha256 {actual_sha}, expected one starting with {prefix.lower()}"
    return None


def _user_file(value: str | Path, source: str, entry: WeightFile) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        cached = weights_dir() / entry.filename  # name a fallback only where it exists
        fallback = (
            f"use the cached {cached}"
            if cached.is_file()
            else f"use the copy in the installed {entry.package.partition('/')[0]} package"
            if entry.package
            else f"download {entry.filename} into {weights_dir()}"
        )
        raise WeightsError(
            f"checkpoint for {entry.name} given by {source} does not exist: {path}; fix the path, or drop it to {fallback}"
        )
    return path


def _packaged(entry: WeightFile, location: str) -> Path:
    """The checkpoint at ``location`` (``"pkg/relative/path"``) inside an installed distribution, located with
    ``find_spec`` (no import), verified."""
    package, _, relative = location.partition("/")
    fix = f"run `{entry.install}`, set {entry.env_var}=PATH or pass --checkpoint {entry.name}=PATH"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"{entry.name} checkpoint not found: the {package} package is not installed; {fix}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise WeightsError(f"{entry.name} checkpoint {path} is missing from the installed {package} package; {fix}")
    problem = _mismatch(path, entry.sha256, entry.md5, None)
    if problem is not None:
        raise WeightsError(
            f"{path} is not the published {entry.name} checkpoint ({problem}); reinstall: {entry.install}"
        )
    return path


def resolve_checkpoint(name: str, override: str | Path | None = None) -> Path:
    """Local path of checkpoint ``name``, downloading and verifying it into the cache if needed.

    User-supplied paths (``override``: ``--checkpoint NAME=PATH`` or the API's ``checkpoints``; then the
    env var) are used as given, unverified;
    the cached copy is checked against the published digests on every call.
    """
    from audiometric.backbones.fetch import download, offline

    entry = _entry(name)
    for source, value in (
        (f"--checkpoint {name}=", override),
        (entry.env_var, os.environ.get(entry.env_var)),
    ):
        if value and entry.hub is not None:
            from audiometric.backbones.hf import resolve_folder

            return resolve_folder(entry, str(value), source, offline=offline())
        if value:
            return _user_file(value, source, entry)
    if entry.hub is not None:
        from audiometric.backbones.hf import resolve_folder

        return resolve_folder(entry, entry.hub, "the default", offline=offline())
    if entry.package is not None:
        return _packaged(entry, entry.package)
    dest = weights_dir() / entry.filename
    if dest.exists():
        problem = _mismatch(dest, entry.sha256, entry.md5, None)
        if problem is not None:
            raise WeightsError(
                f"cached checkpoint {dest} is corrupt or a different file ({problem}); "
                f"delete it (rm '{dest}') and run again to re-download it"
            )
        return dest
    if entry.url is None:
        raise WeightsError(f"{name} has no download URL; pass --checkpoint {name}=PATH or set {entry.env_var}=PATH")
    download(entry.url, dest, sha256=entry.sha256, md5=entry.md5)
    return dest


def strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix that ``torch.nn.DataParallel`` adds to every parameter name."""
    return {key.removeprefix("module."): value for key, value in state_dict.items()}
