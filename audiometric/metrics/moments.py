"""Streaming, mergeable first and second moments of feature rows (float64).

``MomentAccumulator`` keeps only the row count, the mean ``(d,)`` and the scatter matrix ``(d, d)``
(sum of outer products about the mean), so its memory is O(d^2) whatever the number of rows. It is
what ``audiometric stats REF -o ref.npz`` saves (see ``reference.py``), and what the Fréchet metrics read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from audiometric.errors import AudiometricError


class MomentAccumulator:
    """Running count, mean and scatter of ``d``-dimensional rows, updated batch by batch.

    Batches are folded in with the pairwise update of Chan, Golub & LeVeque (1979): each batch's own
    mean and centred scatter are computed first, then combined with the running state through the
    difference of the means. This never forms ``sum(x x^T) - n mu mu^T``, which loses every digit
    when the mean is large next to the spread (e.g. features around 1e6 with unit variance).
    Rows are also shifted by a fixed vector near the data (the first batch's mean) before anything is
    summed, so the running mean is a small number kept to full relative precision.
    """

    def __init__(self, dim: int) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = int(dim)
        self._count = 0
        self._shift = np.zeros(self.dim, dtype=np.float64)  # rows are accumulated as x - shift
        self._mean = np.zeros(self.dim, dtype=np.float64)  # mean of x - shift
        self._scatter = np.zeros((self.dim, self.dim), dtype=np.float64)

    # ------------------------------------------------------------------ updates
    def update(self, rows: np.ndarray, weights: np.ndarray | int | None = None) -> MomentAccumulator:
        """Add ``rows`` of shape ``(n, d)``; returns ``self``.

        ``weights`` are integer frequency weights (multiplicities): one per row ``(n,)``, or one
        integer for the whole batch. A row with weight ``k`` counts exactly as ``k`` copies of it,
        which is how the bootstrap resamples without copying data. Zero-weight rows are ignored.
        """
        x = np.asarray(rows)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"rows must have shape (n, {self.dim}), got {x.shape}")
        w = _frequency_weights(weights, x.shape[0])
        if w is not None:
            keep = w > 0
            if not keep.all():
                x, w = x[keep], w[keep]
        if x.shape[0] == 0:
            return self
        if not np.isfinite(x).all():
            raise AudiometricError("features contain NaN or Inf values; check the audio and backbone output")
        if self._count == 0:
            self._shift = x.mean(axis=0, dtype=np.float64)
        # One float64 copy of the batch, shifted: exact for rows near the shift (Sterbenz lemma).
        xs = np.subtract(x, self._shift, dtype=np.float64)
        if w is None:
            n_b = xs.shape[0]
            mean_b = xs.mean(axis=0)
            xs -= mean_b
        else:
            n_b = int(w.sum())
            wf = w.astype(np.float64)
            mean_b = (wf @ xs) / n_b
            xs -= mean_b
            xs *= np.sqrt(wf)[:, None]
        scatter_b = xs.T @ xs  # numpy dispatches A^T A to BLAS syrk
        self._combine(n_b, mean_b, scatter_b)
        return self

    def merge(self, other: MomentAccumulator) -> MomentAccumulator:
        """Fold another accumulator's rows into this one (order does not matter); returns ``self``."""
        if other.dim != self.dim:
            raise AudiometricError(
                f"cannot merge statistics of dimension {other.dim} into dimension {self.dim}; "
                "they were computed with different backbones or outputs"
            )
        if other._count and self._count == 0:
            self._shift = other._shift.copy()
        if other._count:
            self._combine(other._count, (other._shift - self._shift) + other._mean, other._scatter)
        return self

    def _combine(self, n_b: int, mean_b: np.ndarray, scatter_b: np.ndarray) -> None:
        # Chan, Golub & LeVeque (1979), pairwise update: M2 = M2_a + M2_b + delta delta^T n_a n_b / n.
        n_a = self._count
        n = n_a + n_b
        if n_a == 0:
            self._mean = np.array(mean_b, dtype=np.float64)
            self._scatter = np.array(scatter_b, dtype=np.float64)
        else:
            delta = mean_b - self._mean
            self._mean = self._mean + delta * (n_b / n)
            self._scatter += scatter_b
            self._scatter += np.outer(delta, delta * (n_a * n_b / n))
        self._count = n

    # --------------------------------------------------------------- read-outs
    @property
    def count(self) -> int:
        """Number of rows folded in so far (weighted rows counted with their multiplicity)."""
        return self._count

    @property
    def mean(self) -> np.ndarray:
        """Mean row, shape ``(d,)``, float64."""
        return self._shift + self._mean

    @property
    def scatter(self) -> np.ndarray:
        """Sum of outer products about the mean, shape ``(d, d)``, float64 (a copy)."""
        return self._scatter.copy()

    def cov(self, ddof: int = 1) -> np.ndarray:
        """Covariance ``scatter / (count - ddof)``, shape ``(d, d)``; ``ddof=1`` matches ``np.cov``."""
        if self._count <= ddof:
            raise AudiometricError(
                f"a covariance needs more than {ddof} feature row(s), got {self._count}; add more audio files"
            )
        return self._scatter / (self._count - ddof)

    @property
    def nbytes(self) -> int:
        """Bytes held by the state arrays: ``8 * (2d + d*d)``, independent of the number of rows."""
        return self._shift.nbytes + self._mean.nbytes + self._scatter.nbytes

    # ----------------------------------------------------------------- storage
    def state(self) -> dict[str, np.ndarray]:
        """The arrays that define the accumulator: ``count`` (int64), ``mean`` (d,), ``scatter`` (d, d)."""
        return {"count": np.array(self._count, dtype=np.int64), "mean": self.mean, "scatter": self._scatter.copy()}

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> MomentAccumulator:
        """Rebuild an accumulator from :meth:`state`; raises ``AudiometricError`` if the arrays are inconsistent."""
        missing = {"count", "mean", "scatter"} - set(state)
        if missing:
            raise AudiometricError(f"moment statistics are missing {sorted(missing)}")
        count = int(state["count"])
        mean = np.asarray(state["mean"], dtype=np.float64)
        scatter = np.asarray(state["scatter"], dtype=np.float64)
        d = mean.shape[0] if mean.ndim == 1 else 0
        finite = bool(np.isfinite(mean).all() and np.isfinite(scatter).all())
        if d < 1 or scatter.shape != (d, d) or count < 0 or not finite:
            raise AudiometricError(
                f"moment statistics are corrupt (count {count}, mean {mean.shape}, scatter {scatter.shape})"
            )
        acc = cls(d)
        acc._count, acc._shift, acc._scatter = count, mean.copy(), scatter.copy()  # the shifted mean stays 0
        return acc


def _frequency_weights(weights: np.ndarray | int | None, n: int) -> np.ndarray | None:
    """Validate integer frequency weights and broadcast a per-batch weight to ``(n,)``."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.ndim == 0:
        w = np.full(n, w)
    if w.shape != (n,):
        raise ValueError(f"weights must be one integer or have shape ({n},), got {w.shape}")
    if w.size and (not np.issubdtype(w.dtype, np.integer) and not np.all(np.mod(w, 1) == 0)):
        raise ValueError("weights must be integer multiplicities")
    w = w.astype(np.int64)
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    return w


__all__ = ["MomentAccumulator"]
