"""Errors raised by corruptions; each is user-facing and reads as one line (cause and fix)."""


class CorruptionError(ValueError):
    """A corruption cannot be applied to this input."""


class ClipTooShortError(CorruptionError):
    """The clip is shorter than one analysis frame."""


class SilentTargetError(CorruptionError):
    """The target is all zeros, so a signal-to-noise ratio relative to it is undefined."""


class PoolError(CorruptionError):
    """An interference or event pool is missing, unreadable, or has too few eligible classes."""


class AudioReadError(CorruptionError):
    """A file could not be decoded into usable audio (unreadable, empty, NaN/Inf)."""
