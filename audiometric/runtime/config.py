"""Options read from a YAML file: one reader for every command that takes ``--config``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from audiometric.errors import AudiometricError


def read_options(path: str | Path, known: Iterable[str], see: str) -> dict[str, Any]:
    """The mapping in YAML file ``path`` with keys as option names (``-`` or ``_``); one-line errors for an
    unreadable file, a file that is not a mapping, or a key outside ``known`` (``see`` says where they are
    listed). An empty file gives ``{}``."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise AudiometricError(f"--config {path}: cannot read it ({err.strerror or err}); check the path") from None
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise AudiometricError(f"--config {path}: not valid YAML ({first}); fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AudiometricError(f"--config {path}: expected a mapping of option: value")
    options = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise AudiometricError(f"--config {path}: unknown option(s) {', '.join(unknown)}; see {see}")
    return options
