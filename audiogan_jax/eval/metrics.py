"""Inception Score and Fréchet distance with a classifier of the audio data.

The papers score generated audio with the Inception Score (IS) and the
Fréchet Inception Distance (FID), but with a classifier trained on the audio
dataset in place of the ImageNet Inception network: its class probabilities
give the IS and its penultimate activations the FID features
(``audiogan_jax.eval.classifier.predict``). This module holds the scores
themselves; they take logits and features and know nothing of the network.

Inception Score (Salimans et al., 2016). With p(y|x) the classifier's class
distribution on a sample x and p(y) = E_x p(y|x) its marginal,

  IS = exp(E_x KL(p(y|x) || p(y)))
     = exp(E_x sum_y p(y|x) (log p(y|x) - log p(y))).

It lies in [1, C] for C classes: 1 when every sample gets the same
distribution, C when every sample is classified with certainty and the
classes are balanced. As in the original code, the N samples are cut into
``splits`` contiguous parts, the part of index i holding rows
[i * N // splits, (i + 1) * N // splits); each part has its own marginal p(y)
and its own score, and the result is the mean and the standard deviation
(``np.std``, ddof 0) of the part scores. The probabilities come from the
logits through a float64 log-softmax, so log p(y|x) is exact even where
p(y|x) underflows to 0, and terms with p(y|x) = 0 count as 0 (0 log 0 = 0).
Keeping the logits of 50,000 samples of 10 classes in memory takes 4 MB, so
the IS is computed from the whole [N, C] array at once.

Fréchet distance (Heusel et al., 2017). The features of each set are
summarised by a Gaussian of mean mu and covariance Sigma, and

  FID = |mu1 - mu2|^2 + Tr(Sigma1 + Sigma2 - 2 (Sigma1 Sigma2)^(1/2)).

The usual ``scipy.linalg.sqrtm(Sigma1 @ Sigma2)`` returns complex matrices
from rounding and fails on singular covariances (fewer samples than feature
dimensions, dead ReLU units). Only the trace is needed: with S = Sigma1^(1/2)
the symmetric square root of Sigma1, Sigma1 Sigma2 = S (S Sigma2) and
S Sigma2 S = (S Sigma2) S have the same eigenvalues, those of the symmetric
positive semi-definite S Sigma2 S, so

  Tr((Sigma1 Sigma2)^(1/2)) = sum_i sqrt(lambda_i(S Sigma2 S)).

Both S and the eigenvalues come from symmetric eigendecompositions
(``np.linalg.eigh``/``eigvalsh``), real by construction; eigenvalues that
rounding makes slightly negative are clipped to 0. This is exact for any
positive semi-definite pair, singular or not. The distance itself is clipped
at 0, which rounding can undercut by a few ulps when the two sets are equal.

Streaming statistics. :class:`FeatureStats` holds the count n, the mean mu
and the scatter matrix M = sum_x (x - mu)(x - mu)^T of the features seen so
far, in float64, so the features of 50,000 samples never need to be in
memory together. A batch contributes its own mean and centred scatter, and
two summaries (A, B) combine as in Chan et al. (1979):

  n = nA + nB,  delta = muB - muA,
  mu = muA + delta nB / n,
  M = MA + MB + delta delta^T nA nB / n.

Every term is computed from centred values, so features with a large common
offset (a mean of 1e3 and a spread of 1, say) lose no precision, unlike the
running sum of x x^T minus n mu mu^T, whose two terms cancel. The covariance
is M / (n - 1), the unbiased estimate of ``np.cov(x, rowvar=False)``.

Files. :meth:`FeatureStats.save` writes one .npz (the reference statistics
of a dataset, computed once) with the format name, a version, n, mu, M and a
JSON ``meta`` string (which classifier, which data); it is written to a
temporary file that then replaces the target, so an interrupted run never
leaves half a file. :meth:`FeatureStats.load` reads it without unpickling and
exposes the meta dict as the ``meta`` attribute of the loaded statistics.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional

import numpy as np

from audiogan_jax import export as export_lib

FORMAT = "audiogan_jax.feature_stats"
VERSION = 1

# Rows of ``inception_score_from_probs`` must sum to 1 within this tolerance
# (float32 softmax outputs are off by about 1e-7 per class).
_PROBS_SUM_TOLERANCE = 1e-3


class FeatureStatsFormatError(ValueError):
  """A file that is not a readable feature-statistics file."""


def _check_splits(n: int, splits: int) -> None:
  """Raises ValueError unless ``splits`` parts of ``n`` rows are possible."""
  if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)):
    raise ValueError(f"splits must be an int, got {splits!r}")
  if splits < 1:
    raise ValueError(f"splits must be positive, got {splits}")
  if n == 0:
    raise ValueError("the Inception Score needs at least one sample, got 0")
  if n < splits:
    raise ValueError(f"cannot cut {n} samples into {splits} splits: pass at "
                     f"least {splits} samples or fewer splits")


def _as_2d_float64(x: Any, what: str) -> np.ndarray:
  """``x`` as a finite float64 [N, C] array with C > 0; ValueError otherwise."""
  arr = np.asarray(x)
  if arr.ndim != 2:
    raise ValueError(f"{what} must be a 2-D array [samples, classes], got "
                     f"shape {arr.shape}")
  if arr.shape[1] == 0:
    raise ValueError(f"{what} must have at least one class, got shape "
                     f"{arr.shape}")
  try:
    arr = arr.astype(np.float64)
  except (TypeError, ValueError):
    raise ValueError(f"{what} must be numbers, got dtype {arr.dtype}") from None
  if not np.all(np.isfinite(arr)):
    raise ValueError(f"{what} contain non-finite values (NaN or inf)")
  return arr


def _score_parts(probs: np.ndarray, log_probs: np.ndarray,
                 splits: int) -> tuple[float, float]:
  """Mean and std of the per-part scores exp(E KL(p(y|x) || p(y))).

  Args:
    probs: p(y|x), [N, C] float64, rows summing to 1.
    log_probs: log p(y|x), same shape; -inf allowed where ``probs`` is 0.
    splits: The number of contiguous parts (already validated).

  Returns:
    ``(mean, std)`` of the part scores, std with ddof 0.
  """
  n = probs.shape[0]
  scores = []
  for i in range(splits):
    lo, hi = i * n // splits, (i + 1) * n // splits
    p, logp = probs[lo:hi], log_probs[lo:hi]
    marginal = np.mean(p, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
      log_marginal = np.log(marginal)
      # 0 log 0 = 0: a class with p(y|x) = 0 contributes nothing, even where
      # its marginal is 0 too (log p(y) = -inf).
      terms = np.where(p > 0, p * (logp - log_marginal), 0.0)
    kl = np.sum(terms, axis=1)
    scores.append(np.exp(np.mean(kl)))
  scores = np.asarray(scores)
  return float(np.mean(scores)), float(np.std(scores))


def inception_score(logits: Any, splits: int = 10) -> tuple[float, float]:
  """The Inception Score of classifier logits, as in Salimans et al.

  Args:
    logits: Classifier logits [N, C] of N samples (numpy or jax, any float
      dtype), converted to float64.
    splits: The number of contiguous parts whose scores are averaged (10 in
      the papers); part i holds rows [i * N // splits, (i + 1) * N // splits).

  Returns:
    ``(mean, std)`` of the per-part scores (std with ddof 0; 0 for one
    split), each in [1, C].

  Raises:
    ValueError: ``logits`` not 2-D, without classes or with non-finite
      values; no sample; ``splits`` not a positive int or more than N.
  """
  logits = _as_2d_float64(logits, "logits")
  _check_splits(logits.shape[0], splits)
  shifted = logits - np.max(logits, axis=1, keepdims=True)
  log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
  return _score_parts(np.exp(log_probs), log_probs, int(splits))


def inception_score_from_probs(probs: Any,
                               splits: int = 10) -> tuple[float, float]:
  """The Inception Score of class probabilities (softmax outputs).

  Prefer :func:`inception_score` on the logits: probabilities rounded to 0
  (or to float32) lose the information that the log-softmax keeps.

  Args:
    probs: p(y|x) as [N, C] (numpy or jax, any float dtype): non-negative
      rows summing to 1 within 1e-3, renormalised in float64.
    splits: The number of contiguous parts, as in :func:`inception_score`.

  Returns:
    ``(mean, std)`` of the per-part scores (std with ddof 0).

  Raises:
    ValueError: ``probs`` not 2-D, without classes, non-finite, negative or
      with rows not summing to 1; no sample; bad ``splits``.
  """
  probs = _as_2d_float64(probs, "probs")
  _check_splits(probs.shape[0], splits)
  if np.any(probs < 0):
    raise ValueError("probs must be non-negative")
  sums = np.sum(probs, axis=1, keepdims=True)
  worst = float(np.max(np.abs(sums - 1.0)))
  if worst > _PROBS_SUM_TOLERANCE:
    raise ValueError(f"each row of probs must sum to 1; one is off by "
                     f"{worst:.3g} (pass logits to inception_score instead)")
  probs = probs / sums
  with np.errstate(divide="ignore"):
    log_probs = np.log(probs)
  return _score_parts(probs, log_probs, int(splits))


class FeatureStats:
  """Streaming mean and covariance of feature vectors, in float64.

  Holds the count, the mean and the centred scatter matrix of everything
  passed to :meth:`update` (see the module docstring for the combination
  rule). ``meta`` is a dict: empty for new statistics, what the writer
  stored for statistics read by :meth:`load`.
  """

  def __init__(self, dim: int):
    """Empty statistics of ``dim``-dimensional features.

    Args:
      dim: The feature dimension D.

    Raises:
      ValueError: ``dim`` not a positive int.
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or (
        dim < 1):
      raise ValueError(f"dim must be a positive int, got {dim!r}")
    self._dim = int(dim)
    self._count = 0
    self._mean = np.zeros(self._dim, np.float64)
    self._scatter = np.zeros((self._dim, self._dim), np.float64)
    self.meta: dict[str, Any] = {}

  def __repr__(self) -> str:
    return f"FeatureStats(dim={self._dim}, count={self._count})"

  @property
  def dim(self) -> int:
    """The feature dimension D."""
    return self._dim

  @property
  def count(self) -> int:
    """The number of feature vectors seen."""
    return self._count

  @property
  def mean(self) -> np.ndarray:
    """The mean [D] float64 (a copy; zeros before any update)."""
    return self._mean.copy()

  @property
  def scatter(self) -> np.ndarray:
    """The scatter sum (x - mean)(x - mean)^T, [D, D] float64 (a copy)."""
    return self._scatter.copy()

  @property
  def cov(self) -> np.ndarray:
    """The unbiased covariance [D, D] float64, as ``np.cov(x, rowvar=False)``.

    Raises:
      ValueError: fewer than 2 feature vectors seen.
    """
    if self._count < 2:
      raise ValueError(f"the covariance needs at least 2 feature vectors, got "
                       f"{self._count}")
    return self._scatter / (self._count - 1)

  def _combine(self, count: int, mean: np.ndarray,
               scatter: np.ndarray) -> None:
    """Adds a summary (count, mean, scatter) of other vectors to this one."""
    if count == 0:
      return
    if self._count == 0:
      self._count, self._mean, self._scatter = count, mean.copy(), (
          scatter.copy())
      return
    total = self._count + count
    delta = mean - self._mean
    self._mean = self._mean + delta * (count / total)
    self._scatter = self._scatter + scatter + np.outer(delta, delta) * (
        self._count * count / total)
    self._count = total

  def update(self, features: Any) -> FeatureStats:
    """Adds a batch of feature vectors.

    Args:
      features: [B, D] (numpy or jax, any float dtype), converted to float64;
        B may be 0 or 1.

    Returns:
      ``self``, for chaining.

    Raises:
      ValueError: ``features`` not 2-D, of another dimension or non-finite.
    """
    x = np.asarray(features)
    if x.ndim != 2 or x.shape[1] != self._dim:
      raise ValueError(f"features must have shape [batch, {self._dim}], got "
                       f"{x.shape}")
    try:
      x = x.astype(np.float64)
    except (TypeError, ValueError):
      raise ValueError(
          f"features must be numbers, got dtype {x.dtype}") from None
    if not np.all(np.isfinite(x)):
      raise ValueError("features contain non-finite values (NaN or inf)")
    if not x.shape[0]:
      return self
    batch_mean = np.mean(x, axis=0)
    centred = x - batch_mean
    scatter = centred.T @ centred
    self._combine(x.shape[0], batch_mean, 0.5 * (scatter + scatter.T))
    return self

  def merge(self, other: FeatureStats) -> FeatureStats:
    """Adds the vectors summarised by ``other`` (which is left unchanged).

    Args:
      other: Statistics of the same dimension.

    Returns:
      ``self``, now summarising both sets; ``meta`` is kept.

    Raises:
      ValueError: ``other`` not FeatureStats, or of another dimension.
    """
    if not isinstance(other, FeatureStats):
      raise ValueError(f"can only merge FeatureStats, got "
                       f"{type(other).__name__}")
    if other.dim != self._dim:
      raise ValueError(f"cannot merge FeatureStats of dimension {other.dim} "
                       f"into dimension {self._dim}")
    # pylint: disable-next=protected-access
    self._combine(other.count, other._mean, other._scatter)
    return self

  def save(self, path: str, meta: Optional[Mapping[str, Any]] = None) -> None:
    """Writes the statistics to one .npz file, atomically.

    The file is written exactly at ``path`` (no ``.npz`` is appended) through
    a temporary file in the same folder and ``os.replace``.

    Args:
      path: The file to write (its folder is created).
      meta: JSON-able facts to keep with the statistics (the classifier, the
        data, the split); numpy scalars and arrays become numbers and lists,
        anything else its ``str``. None stores ``self.meta``.
    """
    meta_json = json.dumps(dict(self.meta if meta is None else meta),
                           sort_keys=True, default=export_lib.json_default)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
      with open(tmp, "wb") as f:
        np.savez(f, format=np.asarray(FORMAT), version=np.asarray(VERSION),
                 count=np.asarray(self._count, np.int64), mean=self._mean,
                 scatter=self._scatter, meta=np.asarray(meta_json))
      os.replace(tmp, path)
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)

  @classmethod
  def load(cls, path: str) -> FeatureStats:
    """Reads a file written by :meth:`save`.

    Never unpickles anything (``allow_pickle=False``).

    Args:
      path: The .npz file.

    Returns:
      The statistics, with the stored meta dict as their ``meta`` attribute.

    Raises:
      FeatureStatsFormatError (a ValueError): the file is missing,
        unreadable, not a feature-statistics file, damaged or of a newer
        format version; the one-line message names the file.
    """
    try:
      archive = np.load(path, allow_pickle=False)
    except OSError as e:
      reason = e.strerror or "not an .npz file"
      raise FeatureStatsFormatError(
          f"cannot read feature-statistics file {path!r}: {reason}") from None
    except Exception:  # zipfile and numpy raise several types on bad bytes
      raise FeatureStatsFormatError(
          f"{path!r} is not an audiogan_jax feature-statistics file (not an "
          ".npz or truncated)") from None
    if not hasattr(archive, "files"):  # a bare .npy array
      raise FeatureStatsFormatError(
          f"{path!r} is not an audiogan_jax feature-statistics file (a .npy "
          "array, not an .npz archive)")
    with archive:
      try:
        found = str(archive["format"]) if "format" in archive.files else None
        if found != FORMAT:
          raise FeatureStatsFormatError(
              f"{path!r} is not an audiogan_jax feature-statistics file")
        version = int(archive["version"])
        if version > VERSION:
          raise FeatureStatsFormatError(
              f"{path!r} has feature-statistics format version {version}, "
              f"newer than this audiogan_jax reads ({VERSION}); upgrade "
              "audiogan_jax")
        count = archive["count"]
        mean = np.asarray(archive["mean"], np.float64)
        scatter = np.asarray(archive["scatter"], np.float64)
        meta = json.loads(str(archive["meta"]))
        ok = (count.shape == () and np.issubdtype(count.dtype, np.integer)
              and int(count) >= 0 and mean.ndim == 1 and mean.size > 0
              and scatter.shape == (mean.size, mean.size)
              and bool(np.all(np.isfinite(mean)))
              and bool(np.all(np.isfinite(scatter)))
              and isinstance(meta, dict))
      except FeatureStatsFormatError:
        raise
      except Exception:  # missing keys, bad bytes inside the archive
        ok = False
      if not ok:
        raise FeatureStatsFormatError(
            f"{path!r} is a damaged audiogan_jax feature-statistics file "
            "(missing or inconsistent count, mean, scatter or meta)")
    stats = cls(mean.size)
    stats._count = int(count)
    stats._mean = mean
    stats._scatter = scatter
    stats.meta = meta
    return stats


def frechet_distance(mu1: Any, cov1: Any, mu2: Any, cov2: Any) -> float:
  """The Fréchet distance between two Gaussians, in float64.

  |mu1 - mu2|^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)), with the trace of
  the square root from symmetric eigendecompositions (module docstring):
  exact for positive semi-definite covariances, singular ones included. The
  symmetric parts of the covariances are used.

  Args:
    mu1: Mean [D] of the first set.
    cov1: Covariance [D, D] of the first set.
    mu2: Mean [D] of the second set.
    cov2: Covariance [D, D] of the second set.

  Returns:
    The distance, a finite float >= 0.

  Raises:
    ValueError: shapes that are not [D] and [D, D] with one D, or
      non-finite values.
  """
  arrays = []
  for name, value in (("mu1", mu1), ("cov1", cov1), ("mu2", mu2),
                      ("cov2", cov2)):
    try:
      arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
      raise ValueError(f"{name} must be an array of numbers") from None
    if not np.all(np.isfinite(arr)):
      raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    arrays.append(arr)
  mu1, cov1, mu2, cov2 = arrays
  if mu1.ndim != 1 or mu1.size == 0:
    raise ValueError(f"mu1 must be a non-empty vector [D], got shape "
                     f"{mu1.shape}")
  dim = mu1.size
  for name, arr, shape in (("mu2", mu2, (dim,)), ("cov1", cov1, (dim, dim)),
                           ("cov2", cov2, (dim, dim))):
    if arr.shape != shape:
      raise ValueError(f"{name} must have shape {list(shape)} to match mu1 "
                       f"of dimension {dim}, got {list(arr.shape)}")
  cov1 = 0.5 * (cov1 + cov1.T)
  cov2 = 0.5 * (cov2 + cov2.T)
  eigvals, eigvecs = np.linalg.eigh(cov1)
  sqrt1 = (eigvecs * np.sqrt(np.maximum(eigvals, 0.0))) @ eigvecs.T
  middle = sqrt1 @ cov2 @ sqrt1
  middle = 0.5 * (middle + middle.T)
  trace_sqrt = float(np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh(middle),
                                               0.0))))
  diff = mu1 - mu2
  distance = (float(diff @ diff) + float(np.trace(cov1)) +
              float(np.trace(cov2)) - 2.0 * trace_sqrt)
  return max(distance, 0.0)


def fid(a: FeatureStats, b: FeatureStats) -> float:
  """The Fréchet distance between the Gaussians of two feature statistics.

  Args:
    a: Statistics of one set (e.g. generated samples).
    b: Statistics of the other (e.g. the real data), same dimension.

  Returns:
    :func:`frechet_distance` of their means and covariances.

  Raises:
    ValueError: different dimensions, or fewer than 2 vectors in either.
  """
  if not isinstance(a, FeatureStats) or not isinstance(b, FeatureStats):
    raise ValueError("fid takes two FeatureStats")
  if a.dim != b.dim:
    raise ValueError(f"cannot compare features of dimension {a.dim} with "
                     f"dimension {b.dim}")
  return frechet_distance(a.mean, a.cov, b.mean, b.cov)
