"""Errors that reach the user as one line: what went wrong, which file, and the fix."""

from corruptions.errors import CorruptionError


class AudiometricError(Exception):
    """A user-facing failure; the CLI prints ``str(err)`` on one line and exits with status 2."""


class AudioDecodeError(AudiometricError):
    """A file could not be decoded into usable audio (unreadable, empty, NaN/Inf, ...)."""


class WeightsError(AudiometricError):
    """A checkpoint is missing, corrupt, or does not match the expected layout."""


#: Every error that user input can cause; the CLI prints each as one line (``corruptions`` has its own base).
USER_ERRORS = (AudiometricError, CorruptionError)
