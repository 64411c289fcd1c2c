"""The input pipeline: guidance labels, deterministic streams, cache, resume."""

import numpy as np
import pytest

from audiogan_jax.audio import spectrogram as spec_lib
from audiogan_jax.data import pipeline


def test_labelled_fraction_exact_stratified_and_seeded():
  labels = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130,
                                     140])
  m = pipeline.select_labelled(labels, 0.05, seed=3)
  assert m.sum() == round(0.05 * len(labels))
  assert set(labels[m]) == set(range(10))          # every class represented
  np.testing.assert_array_equal(m, pipeline.select_labelled(labels, 0.05, 3))
  assert not np.array_equal(m, pipeline.select_labelled(labels, 0.05, 4))
  assert pipeline.select_labelled(labels, 1.0, 0).all()
  for f in (0.013, 0.5):
    assert pipeline.select_labelled(labels, f, 0).sum() == round(f * len(labels))


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_labelled_fraction_out_of_range_is_a_clear_error(bad):
  with pytest.raises(ValueError, match="labelled_fraction"):
    pipeline.select_labelled(np.zeros(10, np.int32), bad, 0)


def test_index_sampler_covers_each_epoch_and_is_deterministic():
  pool = np.arange(10, 30)
  s = pipeline.IndexSampler(pool, batch_size=8, seed=0, stream_id=1)
  seq = np.concatenate([s.batch(b) for b in range(5)])  # 40 = two epochs
  assert sorted(seq[:20]) == list(pool) and sorted(seq[20:]) == list(pool)
  s2 = pipeline.IndexSampler(pool, batch_size=8, seed=0, stream_id=1)
  np.testing.assert_array_equal(s2.batch(3), s.batch(3))
  big = pipeline.IndexSampler(pool[:3], batch_size=8, seed=0, stream_id=1)
  assert len(big.batch(0)) == 8                       # batch larger than pool


def test_iterator_resumes_at_any_iteration_and_streams_respect_labels(tiny):
  tiny.data.labelled_fraction = 0.25
  ds = pipeline.load_dataset(tiny, with_test=False)
  assert (ds.train.labels >= 0).sum() == 16
  streams = {"u": "all", "x": "labelled"}
  kw = dict(global_batch=4, steps_per_iteration=2, seed=5)
  it = pipeline.make_iterator(ds, streams, **kw)
  elems = [next(it) for _ in range(4)]
  resumed = next(pipeline.make_iterator(ds, streams, start_iteration=3, **kw))
  for k in elems[3]:
    np.testing.assert_array_equal(elems[3][k], resumed[k])
  e = elems[0]
  assert e["x_spectrogram"].shape == (2, 4, 256, 128, 1)
  assert e["x_label"].shape == (2, 4)
  assert (np.concatenate([x["x_label"] for x in elems]) >= 0).all()
  # Labels travel with their spectrograms.
  lab = ds.train.labels
  for x in elems:
    for spec, y in zip(x["x_spectrogram"].reshape(-1, 256, 128, 1),
                       x["x_label"].reshape(-1)):
      idx = np.flatnonzero((ds.train.spectrograms == spec).all(axis=(1, 2, 3)))
      assert lab[idx[0]] == y


def test_spectrogram_cache_written_once_and_reused(tiny, tmp_path):
  a = pipeline.load_split(tiny.data, "test", cache_dir=str(tmp_path))
  files = list(tmp_path.iterdir())
  assert len(files) == 1
  b = pipeline.load_split(tiny.data, "test", cache_dir=str(tmp_path))
  np.testing.assert_array_equal(np.asarray(a.spectrograms),
                                np.asarray(b.spectrograms))
  direct = np.asarray(spec_lib.log_spectrogram(a.waveforms[:3],
                                               r=tiny.data.spectrogram_clip))
  np.testing.assert_allclose(np.asarray(a.spectrograms[:3, ..., 0]), direct,
                             atol=1e-5)


def test_pipeline_throughput_is_reported(tiny):
  ds = pipeline.load_dataset(tiny, with_test=False)
  it = pipeline.make_iterator(ds, {"x": "all"}, global_batch=4,
                              steps_per_iteration=2, seed=0)
  assert pipeline.measure_throughput(it, 5) > 0
