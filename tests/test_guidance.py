"""Guidance from another dataset: the labelled stream from a second source.

The GAAE paper's gender experiment in miniature: the main dataset is the
synthetic one (seed 0, its labels hidden), the guidance dataset the synthetic
one with another seed and its gender-like label.
"""

import os

from absl import flags
import ml_collections
from ml_collections import config_flags
import numpy as np
import pytest

from audiogan_jax.data import pipeline
from audiogan_jax.data import sources
from audiogan_jax.data import synthetic
from tests_helpers import tiny_config

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_N_MAIN, _N_GUIDE, _N_GUIDE_TEST, _N_MAIN_TEST = 64, 64, 20, 16


def guided_config(label: str = "gender", fraction: float = 0.25):
  """tiny_config's main data (64 clips, seed 0) with synthetic guidance."""
  c = tiny_config()
  g = c.data.guidance
  g.source = "synthetic"
  g.seed = 1
  g.label = label
  g.labelled_fraction = fraction
  g.synthetic.num_train = _N_GUIDE
  g.synthetic.num_test = _N_GUIDE_TEST   # two voices: 10 low, then 10 high
  return c


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("guidance_cache"))


@pytest.fixture(scope="module")
def guided(cache_dir):
  """The guided dataset, loaded once for the module (test splits included)."""
  return pipeline.load_dataset(guided_config(), cache_dir=cache_dir)


@pytest.fixture(scope="module")
def guide_audio():
  """The guidance source's train split, generated directly."""
  return synthetic.generate(_N_GUIDE, seed=1, stream=0)


def test_default_config_has_an_off_guidance_block():
  c = sources.default_data_config()
  g = c.guidance
  assert (g.source, g.path, g.seed, g.labelled_fraction, g.label) == (
      "", "", 0, 1.0, "")
  for block in ("synthetic", "folder", "tfds"):
    assert g[block].to_dict() == c[block].to_dict()
  assert "spectrogram_clip" not in g and "cache_dir" not in g


def test_guidance_is_overridable_from_the_command_line():
  argv = ["prog", f"--config={os.path.join(_ROOT, 'configs', 'gaae.py')}",
          "--config.data.guidance.source=synthetic",
          "--config.data.guidance.seed=1",
          "--config.data.guidance.label=gender",
          "--config.data.guidance.labelled_fraction=0.1",
          "--config.data.guidance.synthetic.num_train=50"]
  fv = flags.FlagValues()
  holder = config_flags.DEFINE_config_file("config", flag_values=fv,
                                           sys_argv=argv)
  fv(argv)
  g = holder.value.data.guidance
  assert (g.source, g.seed, g.label, g.labelled_fraction,
          g.synthetic.num_train) == ("synthetic", 1, "gender", 0.1, 50)


def test_synthetic_seed_gives_different_clips_with_the_same_labels():
  a = synthetic.generate(12, seed=0)
  b = synthetic.generate(12, seed=1)
  np.testing.assert_array_equal(a.labels, b.labels)
  np.testing.assert_array_equal(a.extra_labels["gender"],
                                b.extra_labels["gender"])
  for x, y in zip(a.waveforms, b.waveforms):
    assert not np.allclose(x, y)


def test_merged_train_split(guided, guide_audio):
  train = guided.train
  n = _N_MAIN + _N_GUIDE
  assert len(train) == len(train.waveforms) == len(train.spectrograms) == n
  assert len(train.audio) == len(train.true_labels) == n
  np.testing.assert_array_equal(
      train.origin, [pipeline.ORIGIN_MAIN] * _N_MAIN
      + [pipeline.ORIGIN_GUIDANCE] * _N_GUIDE)
  assert train.origin.dtype == np.int8
  # Main clips: the main source's, with no label at all.
  main = synthetic.generate(_N_MAIN, seed=0, stream=0)
  np.testing.assert_array_equal(train.waveforms[:_N_MAIN], main.waveforms)
  assert (train.labels[:_N_MAIN] == -1).all()
  assert (train.true_labels[:_N_MAIN] == -1).all()
  assert (train.audio.labels[:_N_MAIN] == -1).all()
  # Guidance clips: the guidance source's, with its gender labels.
  np.testing.assert_array_equal(train.waveforms[_N_MAIN:],
                                guide_audio.waveforms)
  gender = guide_audio.extra_labels["gender"]
  np.testing.assert_array_equal(train.true_labels[_N_MAIN:], gender)
  np.testing.assert_array_equal(train.audio.labels[_N_MAIN:], gender)
  assert guided.class_names == ("low", "high") == train.audio.class_names
  assert guided.num_classes == 2
  # Spectrograms travel with their clips.
  np.testing.assert_allclose(
      np.asarray(train.spectrograms[[0, _N_MAIN]]),
      pipeline.compute_spectrograms(train.waveforms[[0, _N_MAIN]], 10.0),
      atol=1e-6)


def test_labelled_pool_is_an_exact_stratified_guidance_subset(guided,
                                                             guide_audio):
  train = guided.train
  labelled = pipeline.stream_pool(train, "labelled")
  assert len(labelled) == round(0.25 * _N_GUIDE)
  assert (labelled >= _N_MAIN).all()
  assert (train.origin[labelled] == pipeline.ORIGIN_GUIDANCE).all()
  gender = guide_audio.extra_labels["gender"]
  np.testing.assert_array_equal(train.labels[labelled],
                                gender[labelled - _N_MAIN])
  assert set(train.labels[labelled]) == {0, 1}
  expected = pipeline.select_labelled(gender, 0.25, seed=1)
  np.testing.assert_array_equal(labelled - _N_MAIN, np.flatnonzero(expected))
  # 'all' and 'unlabelled' hold both datasets.
  assert len(pipeline.stream_pool(train, "all")) == _N_MAIN + _N_GUIDE
  unlabelled = pipeline.stream_pool(train, "unlabelled")
  assert len(unlabelled) == _N_MAIN + _N_GUIDE - len(labelled)
  assert set(train.origin[unlabelled]) == {0, 1}


def test_iterator_labelled_stream_draws_guidance_clips_only(guided):
  it = pipeline.make_iterator(guided, {"u": "all", "l": "labelled"},
                              global_batch=4, steps_per_iteration=2, seed=0)
  train = guided.train
  flat = np.asarray(train.spectrograms).reshape(len(train), -1)
  seen = set()
  for _ in range(4):
    e = next(it)
    assert e["l_label"].shape == (2, 4)
    assert (e["l_label"] >= 0).all()
    for spec, y in zip(e["l_spectrogram"].reshape(8, -1),
                       e["l_label"].reshape(-1)):
      idx = np.flatnonzero((flat == spec).all(axis=1))[0]
      assert train.origin[idx] == pipeline.ORIGIN_GUIDANCE
      assert train.labels[idx] == y
    for spec in e["u_spectrogram"].reshape(8, -1):
      seen.add(int(np.flatnonzero((flat == spec).all(axis=1))[0]))
  assert min(seen) < _N_MAIN   # the 'all' stream reaches the main clips


def test_test_splits(guided):
  test = guided.test
  direct = synthetic.generate(_N_GUIDE_TEST, seed=1, stream=2)
  assert len(test) == _N_GUIDE_TEST
  np.testing.assert_array_equal(test.waveforms, direct.waveforms)
  np.testing.assert_array_equal(test.labels, direct.extra_labels["gender"])
  np.testing.assert_array_equal(test.true_labels, test.labels)
  assert set(test.labels) == {0, 1}
  assert test.audio.class_names == ("low", "high") and test.origin is None
  main_test = guided.main_test
  assert len(main_test) == _N_MAIN_TEST
  np.testing.assert_array_equal(
      main_test.waveforms,
      synthetic.generate(_N_MAIN_TEST, seed=0, stream=2).waveforms)
  assert main_test.audio.num_classes == 10
  assert (main_test.labels == np.arange(_N_MAIN_TEST) % 10).all()


def test_summary_mentions_the_guidance(guided):
  line = guided.summary()
  assert "(guidance: 16 labelled clips from synthetic[gender]" in line
  assert line.startswith("128 train examples (16 labelled), 20 test examples,"
                         " 2 classes: low, high")


def test_guidance_caches_are_separate_and_reused(guided, cache_dir):
  files = sorted(os.listdir(cache_dir))
  assert len(files) == 4   # main and guidance, train and test
  again = pipeline.load_dataset(guided_config(), cache_dir=cache_dir)
  assert sorted(os.listdir(cache_dir)) == files
  np.testing.assert_array_equal(np.asarray(again.train.spectrograms),
                                np.asarray(guided.train.spectrograms))


def test_main_cache_key_ignores_guidance():
  # pylint: disable=protected-access
  c = tiny_config().data
  before = pipeline._cache_key(c, "train", 64)
  bare = ml_collections.ConfigDict(
      {k: v for k, v in c.to_dict().items() if k != "guidance"})
  assert pipeline._cache_key(bare, "train", 64) == before
  g = guided_config().data
  assert pipeline._cache_key(g, "train", 64) == before
  guide_key = pipeline._cache_key(pipeline.guidance_data_config(g), "train",
                                  64)
  assert guide_key != before


def test_guidance_with_the_class_label():
  c = guided_config(label="", fraction=0.5)
  c.data.guidance.synthetic.num_train = 16
  c.data.guidance.synthetic.num_classes = 4
  ds = pipeline.load_dataset(c, with_test=False)
  assert ds.class_names == synthetic.class_names(4) and ds.num_classes == 4
  assert ds.test is None and ds.main_test is None
  np.testing.assert_array_equal(ds.train.true_labels[_N_MAIN:],
                                np.arange(16) % 4)
  labelled = np.flatnonzero(ds.train.labels >= 0)
  assert len(labelled) == 8 and (labelled >= _N_MAIN).all()
  assert "synthetic[class]" in ds.summary()


def test_bad_label_name_is_a_one_line_error():
  with pytest.raises(ValueError) as e:
    pipeline.load_dataset(guided_config(label="speaker"), with_test=False)
  msg = str(e.value)
  assert "--config.data.guidance.label='speaker'" in msg
  assert "'gender'" in msg and "\n" not in msg


def test_guidance_without_labelled_examples_is_an_error():
  c = guided_config(fraction=0.001)   # round(0.001 * 64) = 0
  with pytest.raises(ValueError, match="no labelled example") as e:
    pipeline.load_dataset(c, with_test=False)
  assert "--config.data.guidance." in str(e.value)


def test_bad_guidance_settings_name_the_guidance_flags(tmp_path):
  c = guided_config()
  c.data.guidance.source = "mp3s"
  with pytest.raises(ValueError, match=r"--config\.data\.guidance\.source"):
    pipeline.load_dataset(c, with_test=False)
  c = guided_config(fraction=1.5)
  with pytest.raises(ValueError,
                     match=r"--config\.data\.guidance\.labelled_fraction"):
    pipeline.load_dataset(c, with_test=False)
  c = guided_config()
  c.data.guidance.source = "folder"
  c.data.guidance.path = str(tmp_path / "missing")
  with pytest.raises(ValueError, match=r"--config\.data\.guidance\.path"):
    pipeline.load_dataset(c, with_test=False)


def test_without_guidance_nothing_changes(tiny):
  ds = pipeline.load_dataset(tiny)
  assert ds.train.origin is None and ds.guidance == ""
  assert ds.main_test is ds.test
  assert "guidance" not in ds.summary()
  split = pipeline.load_split(tiny.data, "train")
  np.testing.assert_array_equal(ds.train.labels, split.labels)
  assert ds.class_names == synthetic.class_names(10)


def test_concatenate_fills_and_drops_extra_labels():
  names = ("a", "b")
  x = sources.AudioSet(
      waveforms=np.zeros((2, 4), np.float32), labels=np.array([0, 1]),
      class_names=names, extra_labels={"g": np.array([1, 0]),
                                       "s": np.array([0, 0])},
      extra_class_names={"g": ("lo", "hi"), "s": ("x",)}, files=("p", "q"))
  y = sources.AudioSet(
      waveforms=np.ones((1, 4), np.float32), labels=np.array([-1]),
      class_names=names, extra_labels={"s": np.array([0])},
      extra_class_names={"s": ("other",)})
  z = sources.concatenate([x, y])
  assert len(z) == 3 and z.files is None
  np.testing.assert_array_equal(z.labels, [0, 1, -1])
  np.testing.assert_array_equal(z.extra_labels["g"], [1, 0, -1])
  assert "s" not in z.extra_labels                 # conflicting class names
  assert z.extra_class_names == {"g": ("lo", "hi")}
  assert sources.concatenate([x, x]).files == ("p", "q", "p", "q")
  with pytest.raises(ValueError, match="classes"):
    sources.concatenate([x, sources.AudioSet(
        waveforms=np.zeros((1, 4), np.float32), labels=np.array([0]),
        class_names=("c",))])
