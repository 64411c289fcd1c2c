"""Inception Score, streaming feature statistics and the Fréchet distance.

The references are written independently of the module: the IS from
``scipy.special.softmax`` and ``scipy.stats.entropy`` (which gives the KL
divergence when passed two distributions), the Fréchet distance from
``np.mean``/``np.cov`` of all features at once and ``scipy.linalg.sqrtm``.
"""

import json

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats

from audiogan_jax.eval import metrics


def _reference_is(logits, splits):
  """IS as in Salimans et al.: contiguous parts, KL to each part's marginal."""
  probs = scipy.special.softmax(np.asarray(logits, np.float64), axis=1)
  n = len(probs)
  scores = []
  for i in range(splits):
    part = probs[i * n // splits:(i + 1) * n // splits]
    marginal = part.mean(axis=0)
    kl = [scipy.stats.entropy(p, marginal) for p in part]
    scores.append(np.exp(np.mean(kl)))
  return np.mean(scores), np.std(scores)


def _reference_fd(x1, x2):
  """Fréchet distance of all features at once, with scipy's sqrtm."""
  mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
  c1, c2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
  covmean = scipy.linalg.sqrtm(c1 @ c2)
  covmean = np.real(covmean)
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2)
               - 2 * np.trace(covmean))


def _stream(x, rng, max_batch=97):
  """FeatureStats of ``x`` fed in random batch sizes, some of size 1 or 0."""
  stats = metrics.FeatureStats(x.shape[1])
  i = 0
  while i < len(x):
    b = int(rng.choice([0, 1, 1, 2, int(rng.integers(3, max_batch))]))
    stats.update(x[i:i + b])
    i += b
  return stats


def _correlated(rng, n, dim, offset):
  """n features with a random covariance, a large common offset."""
  mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
  return offset + rng.normal(size=(n, dim)) @ mix + rng.normal(size=dim)


# Inception Score.


@pytest.mark.parametrize("n,splits", [(1000, 10), (1003, 10), (257, 1),
                                      (50, 7)])
def test_is_matches_reference(n, splits):
  rng = np.random.default_rng(n)
  logits = (3 * rng.normal(size=(n, 10))).astype(np.float32)
  mean, std = metrics.inception_score(logits, splits)
  ref_mean, ref_std = _reference_is(logits, splits)
  assert mean == pytest.approx(ref_mean, rel=1e-9)
  if splits == 1:
    assert std == 0.0
  else:
    assert std == pytest.approx(ref_std, rel=1e-6)
  probs = scipy.special.softmax(logits.astype(np.float64), axis=1)
  from_probs = metrics.inception_score_from_probs(probs, splits)
  assert from_probs == pytest.approx((mean, std), rel=1e-9, abs=1e-12)


def test_is_parts_equal_array_split_when_divisible():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(200, 5))
  probs = scipy.special.softmax(logits, axis=1)
  scores = []
  for part in np.array_split(probs, 10):
    kl = scipy.stats.entropy(part.T, part.mean(axis=0)[:, None])
    scores.append(np.exp(kl.mean()))
  assert metrics.inception_score(logits, 10) == pytest.approx(
      (np.mean(scores), np.std(scores)), rel=1e-9)


def test_is_accepts_jax_and_low_precision():
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(100, 10)).astype(np.float32)
  expected = metrics.inception_score(logits, 5)
  assert metrics.inception_score(jnp.asarray(logits), 5) == pytest.approx(
      expected, rel=1e-12)
  half = metrics.inception_score(logits.astype(np.float16), 5)
  assert half == pytest.approx(expected, rel=1e-2)


def test_is_of_uniform_outputs_is_one():
  assert metrics.inception_score(np.full((100, 10), 3.5), 10) == (
      pytest.approx(1.0, abs=1e-6), pytest.approx(0.0, abs=1e-6))
  rng = np.random.default_rng(3)
  mean, std = metrics.inception_score(rng.normal(size=(500, 10)) / 1e6, 10)
  assert mean == pytest.approx(1.0, abs=1e-6)
  assert std == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("classes", [10, 3])
def test_is_of_confident_balanced_outputs_is_num_classes(classes):
  splits = 4
  labels = np.tile(np.arange(classes), 5 * splits)     # balanced in each part
  logits = 100.0 * np.eye(classes)[labels]             # p(y|x) = e^-100 off
  mean, std = metrics.inception_score(logits, splits)
  assert mean == pytest.approx(classes, rel=1e-6)
  assert std == pytest.approx(0.0, abs=1e-6)
  # Exactly one-hot probabilities: the 0 log 0 terms count as 0.
  mean, std = metrics.inception_score_from_probs(np.eye(classes)[labels],
                                                 splits)
  assert (mean, std) == (pytest.approx(classes, rel=1e-12), 0.0)
  # Huge logits: p(y|x) underflows to 0 off the label, log p stays exact.
  mean, _ = metrics.inception_score(1e4 * np.eye(classes)[labels], splits)
  assert mean == pytest.approx(classes, rel=1e-12)


def test_is_with_a_class_never_predicted():
  # Class 2 has marginal 0 in every part; its terms must count as 0, not NaN.
  probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] * 4)
  assert metrics.inception_score_from_probs(probs, 2) == (
      pytest.approx(2.0, rel=1e-12), 0.0)


@pytest.mark.parametrize("logits,splits,match", [
    (np.zeros((5, 3)), 10, "splits"),
    (np.zeros((0, 3)), 1, "at least one sample"),
    (np.zeros((0, 3)), 10, "at least one sample"),
    (np.zeros(10), 1, "2-D"),
    (np.zeros((2, 3, 4)), 1, "2-D"),
    (np.zeros((4, 0)), 1, "at least one class"),
    (np.array([[0.0, np.nan]] * 4), 1, "non-finite"),
    (np.array([[0.0, np.inf]] * 4), 1, "non-finite"),
    (np.zeros((5, 3)), 0, "positive"),
    (np.zeros((5, 3)), 2.0, "int"),
])
def test_is_rejects_bad_input(logits, splits, match):
  with pytest.raises(ValueError, match=match):
    metrics.inception_score(logits, splits)


def test_is_from_probs_rejects_non_distributions():
  with pytest.raises(ValueError, match="sum to 1"):
    metrics.inception_score_from_probs(np.full((4, 3), 0.5), 1)
  with pytest.raises(ValueError, match="non-negative"):
    metrics.inception_score_from_probs(np.array([[1.5, -0.5]] * 4), 1)


# Streaming statistics.


@pytest.fixture(scope="module")
def features():
  """Two sets of 64-D features with a large common offset (mean ~1e3)."""
  rng = np.random.default_rng(0)
  x1 = _correlated(rng, 3000, 64, 1e3)
  x2 = _correlated(rng, 2000, 64, 1e3)
  return x1, x2


def test_streamed_stats_match_numpy(features):
  x1, _ = features
  rng = np.random.default_rng(4)
  stats = _stream(x1, rng)
  assert stats.count == len(x1) and stats.dim == 64
  assert stats.mean.dtype == np.float64 and stats.cov.dtype == np.float64
  np.testing.assert_allclose(stats.mean, np.mean(x1, axis=0), rtol=1e-9)
  ref_cov = np.cov(x1, rowvar=False)
  scale = np.max(np.abs(ref_cov))
  np.testing.assert_allclose(stats.cov, ref_cov, rtol=1e-6, atol=1e-9 * scale)
  assert np.max(np.abs(stats.cov - ref_cov)) / scale < 1e-6


def test_streamed_stats_keep_precision_at_large_offset():
  # Mean 1e6, spread 1: the naive sum of x x^T - n mu mu^T loses ~all digits.
  rng = np.random.default_rng(5)
  x = 1e6 + rng.normal(size=(2000, 8))
  centred = x - x.mean(axis=0)
  exact = centred.T @ centred / (len(x) - 1)
  stats = _stream(x, rng)
  np.testing.assert_allclose(stats.cov, exact, rtol=1e-6, atol=1e-6)


def test_merge_equals_one_update(features):
  x1, _ = features
  whole = metrics.FeatureStats(64).update(x1)
  rng = np.random.default_rng(6)
  cuts = np.sort(rng.choice(np.arange(1, len(x1)), size=5, replace=False))
  merged = metrics.FeatureStats(64)
  for part in np.split(x1, cuts):
    merged.merge(_stream(part, rng))
  merged.merge(metrics.FeatureStats(64))           # an empty one is a no-op
  assert merged.count == whole.count
  np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-12)
  np.testing.assert_allclose(merged.cov, whole.cov, rtol=1e-9,
                             atol=1e-12 * np.max(np.abs(whole.cov)))
  empty = metrics.FeatureStats(64).merge(whole)
  np.testing.assert_array_equal(empty.cov, whole.cov)


def test_update_accepts_jax_and_float32(features):
  x1, _ = features
  x = x1[:300].astype(np.float32)
  stats = metrics.FeatureStats(64).update(jnp.asarray(x[:100])).update(x[100:])
  np.testing.assert_allclose(stats.cov, np.cov(x.astype(np.float64),
                                               rowvar=False),
                             rtol=1e-6, atol=1e-9)


def test_stats_reject_bad_input():
  stats = metrics.FeatureStats(4)
  with pytest.raises(ValueError, match=r"\[batch, 4\]"):
    stats.update(np.zeros((3, 5)))
  with pytest.raises(ValueError, match=r"\[batch, 4\]"):
    stats.update(np.zeros(4))
  with pytest.raises(ValueError, match="non-finite"):
    stats.update(np.full((2, 4), np.nan))
  with pytest.raises(ValueError, match="dimension"):
    stats.merge(metrics.FeatureStats(5))
  with pytest.raises(ValueError, match="positive"):
    metrics.FeatureStats(0)
  stats.update(np.ones((1, 4)))
  with pytest.raises(ValueError, match="at least 2"):
    _ = stats.cov
  with pytest.raises(ValueError, match="dimension"):
    metrics.fid(metrics.FeatureStats(4), metrics.FeatureStats(5))


# Fréchet distance.


def test_streamed_fid_matches_scipy(features):
  x1, x2 = features
  rng = np.random.default_rng(7)
  value = metrics.fid(_stream(x1, rng), _stream(x2, rng))
  reference = _reference_fd(x1, x2)
  assert value > 1.0
  assert value == pytest.approx(reference, rel=1e-3)


def test_fid_of_a_set_with_itself_is_zero(features):
  x1, _ = features
  stats = metrics.FeatureStats(64).update(x1)
  scale = np.trace(stats.cov)
  assert 0.0 <= metrics.fid(stats, stats) < 1e-6 * scale
  assert metrics.fid(stats, _stream(x1, np.random.default_rng(8))) < (
      1e-6 * scale)


def test_frechet_distance_of_diagonal_gaussians():
  rng = np.random.default_rng(9)
  mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
  v1, v2 = rng.uniform(0.1, 3, size=16), rng.uniform(0.1, 3, size=16)
  closed_form = np.sum((mu1 - mu2) ** 2) + np.sum(
      (np.sqrt(v1) - np.sqrt(v2)) ** 2)
  value = metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
  assert value == pytest.approx(closed_form, rel=1e-12)
  # Same covariance: only the means count.
  assert metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v1)) == (
      pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-12))


def test_frechet_distance_of_rotated_gaussians():
  # Sigma1 = R diag(a) R^T, Sigma2 = R diag(b) R^T share eigenvectors.
  rng = np.random.default_rng(10)
  rot, _ = np.linalg.qr(rng.normal(size=(12, 12)))
  a, b = rng.uniform(0.1, 2, size=12), rng.uniform(0.1, 2, size=12)
  value = metrics.frechet_distance(np.zeros(12), rot @ np.diag(a) @ rot.T,
                                   np.zeros(12), rot @ np.diag(b) @ rot.T)
  assert value == pytest.approx(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2),
                                rel=1e-9)


def test_frechet_distance_with_singular_covariances():
  rng = np.random.default_rng(11)
  x1 = _correlated(rng, 40, 64, 0.0)        # rank 39 < 64
  x2 = _correlated(rng, 500, 64, 0.5)       # full rank
  mu1, c1 = x1.mean(axis=0), np.cov(x1, rowvar=False)
  mu2, c2 = x2.mean(axis=0), np.cov(x2, rowvar=False)
  assert np.linalg.matrix_rank(c1) < 64
  value = metrics.frechet_distance(mu1, c1, mu2, c2)
  assert np.isfinite(value) and value > 0
  assert value == pytest.approx(_reference_fd(x1, x2), rel=1e-3)
  # Both singular: still finite, non-negative and symmetric.
  x3 = _correlated(rng, 30, 64, 0.0)
  mu3, c3 = x3.mean(axis=0), np.cov(x3, rowvar=False)
  both = metrics.frechet_distance(mu1, c1, mu3, c3)
  assert np.isfinite(both) and both > 0
  assert both == pytest.approx(metrics.frechet_distance(mu3, c3, mu1, c1),
                               rel=1e-9)
  assert metrics.frechet_distance(mu1, c1, mu1, c1) < 1e-9 * np.trace(c1)


@pytest.mark.parametrize("args,match", [
    ((np.zeros(3), np.eye(3), np.zeros(4), np.eye(3)), "mu2"),
    ((np.zeros(3), np.eye(3), np.zeros(3), np.eye(4)), "cov2"),
    ((np.zeros(3), np.eye(4), np.zeros(3), np.eye(3)), "cov1"),
    ((np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3)), "mu1"),
    ((np.zeros(3), np.zeros(3), np.zeros(3), np.eye(3)), "cov1"),
    ((np.zeros(3), np.eye(3), np.full(3, np.nan), np.eye(3)), "non-finite"),
    ((np.zeros(3), np.full((3, 3), np.inf), np.zeros(3), np.eye(3)),
     "non-finite"),
])
def test_frechet_distance_rejects_bad_input(args, match):
  with pytest.raises(ValueError, match=match):
    metrics.frechet_distance(*args)


# Files.


def test_save_load_round_trip(tmp_path, features):
  x1, _ = features
  stats = metrics.FeatureStats(64).update(x1[:500])
  path = str(tmp_path / "sub" / "ref_stats.npz")
  meta = {"classifier": "clf.msgpack", "num_samples": np.int64(500),
          "classes": ["a", "b"]}
  stats.save(path, meta=meta)
  assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == [
      "ref_stats.npz"]
  loaded = metrics.FeatureStats.load(path)
  assert loaded.count == 500 and loaded.dim == 64
  np.testing.assert_array_equal(loaded.mean, stats.mean)
  np.testing.assert_array_equal(loaded.cov, stats.cov)
  assert loaded.meta == {"classifier": "clf.msgpack", "num_samples": 500,
                         "classes": ["a", "b"]}
  # Loaded statistics keep streaming; saving them again keeps their meta.
  loaded.update(x1[500:1000])
  np.testing.assert_allclose(loaded.cov, np.cov(x1[:1000], rowvar=False),
                             rtol=1e-9, atol=1e-9)
  loaded.save(path)
  again = metrics.FeatureStats.load(path)
  assert again.count == 1000 and again.meta == loaded.meta
  with np.load(path, allow_pickle=False) as z:
    assert json.loads(str(z["meta"]))["classes"] == ["a", "b"]


def test_load_rejects_bad_files(tmp_path):
  corrupt = tmp_path / "corrupt.npz"
  corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive")
  with pytest.raises(ValueError, match="corrupt.npz"):
    metrics.FeatureStats.load(str(corrupt))
  text = tmp_path / "text.npz"
  text.write_text("hello")
  with pytest.raises(ValueError, match="text.npz"):
    metrics.FeatureStats.load(str(text))
  with pytest.raises(ValueError, match="missing.npz"):
    metrics.FeatureStats.load(str(tmp_path / "missing.npz"))
  other = tmp_path / "other.npz"
  np.savez(other, mean=np.zeros(3))
  with pytest.raises(ValueError, match="other.npz.*not an audiogan_jax"):
    metrics.FeatureStats.load(str(other))
  bare = tmp_path / "bare.npy"
  np.save(bare, np.zeros(3))
  with pytest.raises(ValueError, match="bare.npy"):
    metrics.FeatureStats.load(str(bare))
  good = tmp_path / "good.npz"
  metrics.FeatureStats(3).update(np.eye(3)).save(str(good))
  with np.load(good) as z:
    fields = dict(z)
  mismatched = tmp_path / "mismatched.npz"
  np.savez(mismatched, **{**fields, "scatter": np.eye(4)})
  with pytest.raises(metrics.FeatureStatsFormatError, match="mismatched.npz"):
    metrics.FeatureStats.load(str(mismatched))
  newer = tmp_path / "newer.npz"
  np.savez(newer, **{**fields, "version": np.asarray(metrics.VERSION + 1)})
  with pytest.raises(ValueError, match="newer.npz.*upgrade"):
    metrics.FeatureStats.load(str(newer))
  truncated = tmp_path / "truncated.npz"
  truncated.write_bytes(good.read_bytes()[:-40])
  with pytest.raises(ValueError, match="truncated.npz"):
    metrics.FeatureStats.load(str(truncated))
