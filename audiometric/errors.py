"""Errors that reach the user as one line: ``error: <what> (<path>): <fix>``.

Two kinds, told apart by the exit status the CLI gives them (:func:`exit_status`):

- **usage** (status 2): an option, a path or a set-up the user can correct on the command line (an
  output path that cannot be written, a folder of another run, a missing weights file, an unknown
  device). :class:`AudiometricError` itself and every subclass but :class:`DataError`.
- **data** (status 1): the input data cannot give a result (no usable audio file, a file that does
  not decode, a corrupted set that cannot be made from these clips). :class:`DataError` and its
  subclasses, and the data errors of the ``corruptions`` library.
"""

from __future__ import annotations

import os

from corruptions.errors import AudioReadError, ClipTooShortError, CorruptionError, SilentTargetError


def one_line(what: str, path: str | os.PathLike | None = None, fix: str | None = None) -> str:
    """``what (path): fix`` with the parts that are given, newlines folded so the message stays one line."""
    text = what + (f" ({os.fspath(path)})" if path is not None else "") + (f": {fix}" if fix else "")
    return " ".join(text.split("\n"))


class AudiometricError(Exception):
    """A user-facing failure; the CLI prints ``error: str(err)`` on one line, exit status :attr:`exit_code`.

    Give either a whole message, or ``what`` with the keywords ``path`` and ``fix`` (:func:`one_line`).
    """

    exit_code = 2

    def __init__(self, what: str, *, path: str | os.PathLike | None = None, fix: str | None = None) -> None:
        super().__init__(one_line(what, path, fix))
        self.path = None if path is None else os.fspath(path)


class DataError(AudiometricError):
    """The input data cannot give a result (exit status 1): the user fixes the data, not the command."""

    exit_code = 1


class AudioDecodeError(DataError):
    """A file could not be decoded into usable audio (unreadable, empty, NaN/Inf, ...)."""


class WeightsError(AudiometricError):
    """A checkpoint is missing, corrupt, or does not match the expected layout."""


class OutputError(AudiometricError):
    """An output path refused before any work: unwritable, under a file, inside an input, another run's."""


#: Every error that user input can cause; the CLI prints each as one line (``corruptions`` has its own base).
USER_ERRORS = (AudiometricError, CorruptionError)

#: The ``corruptions`` errors that are about the data (a clip too short, silent, unreadable).
_CORRUPTION_DATA_ERRORS = (AudioReadError, ClipTooShortError, SilentTargetError)


def exit_status(err: BaseException) -> int:
    """The CLI's exit status for a user error: 1 for data errors, 2 for usage errors."""
    if isinstance(err, AudiometricError):
        return err.exit_code
    return 1 if isinstance(err, _CORRUPTION_DATA_ERRORS) else 2
