"""What a corruption takes from the command line, read from its registry entry (``corruptions/registry.py``).

Parameters: its ``params`` (``--param KEY=VALUE``). Set-level options: its ``inputs`` -- a ``pool`` input
reads ``--pool``, a ``target_label`` input reads ``--labels``/``--target-label``, and an ``events`` input
(event_permutation) reads ``--pool`` and composes its own reference, so it takes no ``--ref``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import corruptions
from audiometric.errors import AudiometricError

#: Each set-level option and the registry inputs that read it (``--ref``: every corruption without ``events``).
OPTION_INPUTS: dict[str, tuple[str, ...]] = {
    "--pool": ("pool", "events"),
    "--labels": ("target_label",),
    "--target-label": ("target_label",),
}
#: What each option gives, for the messages.
_WHAT = {
    "--ref": "reference folder",
    "--pool": "pool",
    "--labels": "target classes",
    "--target-label": "target classes",
}


def parse_params(entry: corruptions.Corruption | tuple, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults of ``entry`` (a registry entry or a tuple of ``Param``) updated by ``raw`` (strings are parsed)."""
    params = entry.params if isinstance(entry, corruptions.Corruption) else entry
    by_name = {p.name: p for p in params}
    resolved = {p.name: p.default for p in params}
    for key, value in raw.items():
        if key not in by_name:
            valid = ", ".join(by_name) or "none"
            raise AudiometricError(f"unknown parameter '{key}'; valid: {valid}")
        resolved[key] = by_name[key].parse(value) if isinstance(value, str) else value
    return resolved


def takes(entry: corruptions.Corruption, flag: str) -> bool:
    """Whether ``entry`` reads the set-level option ``flag`` (``--ref``, ``--pool``, ``--labels``, ...)."""
    inputs = {p.name for p in entry.inputs}
    if flag == "--ref":
        return "events" not in inputs
    return bool(inputs & set(OPTION_INPUTS[flag]))


def check_taken(entry: corruptions.Corruption, given: Mapping[str, Any]) -> None:
    """One-line error for the first option of ``given`` (flag -> value, None when absent) that ``entry``
    does not read: an option a corruption ignores is a mistake, never silently dropped."""
    for flag, value in given.items():
        if value is not None and not takes(entry, flag):
            users = [name for name in corruptions.names() if takes(corruptions.get(name), flag)]
            raise AudiometricError(
                f"{flag}: {entry.name} uses no {_WHAT[flag]} (only {', '.join(users)} do; {flag} {value} "
                f"would be ignored); drop {flag}"
            )
