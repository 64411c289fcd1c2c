"""The labelled-only Simple Classifier baseline: training, augmentation, files.

The trainings run the real code on the embedded synthetic dataset at reduced
widths (4, 8, 16, 16) and lr 1e-3, so that one compiled step (shared by every
training here) and a few dozen steps fit the CPU test budget; the paper's
widths (32, 64, 128, 256) and lr 1e-4 are the config's defaults.
"""

import functools

import flax.serialization
import jax
import numpy as np
import pytest

from audiogan_jax import config as config_lib
from audiogan_jax import export as export_lib
from audiogan_jax.data import pipeline
from audiogan_jax.eval import classifier as clf

NUM_CLASSES = 10
TEST_WIDTHS = (4, 8, 16, 16)


def _test_config(num_steps: int = 40):
  """The default config at test size: one compiled step for every test."""
  cfg = clf.default_classifier_config()
  cfg.widths = TEST_WIDTHS
  cfg.lr = 1e-3
  cfg.batch_size = 16
  cfg.num_steps = num_steps
  cfg.seed = 0
  return cfg


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """400 labelled synthetic training clips and 200 held-out clips."""
  c = config_lib.biggan_config(True)
  c.data.labelled_fraction = 1.0
  c.data.synthetic.num_train = 400
  c.data.synthetic.num_test = 200
  return pipeline.load_dataset(c, cache_dir=str(tmp_path_factory.mktemp("c")))


@pytest.fixture(scope="module")
def trained(data):
  """(params, history) of a 40-step training with augmentation."""
  return clf.train_classifier(data.train.spectrograms, data.train.labels,
                              NUM_CLASSES, _test_config(),
                              eval_x=data.test.spectrograms,
                              eval_y=data.test.labels, log_every=20)


def test_default_config_is_the_papers():
  cfg = clf.default_classifier_config()
  assert tuple(cfg.widths) == (32, 64, 128, 256)
  assert (cfg.lr, cfg.b1, cfg.b2, cfg.weight_decay) == (1e-4, 0.9, 0.999, 0.0)
  assert cfg.batch_size == 64 and cfg.augment


def test_short_training_is_well_above_chance(data, trained):
  # Measured: 65-67 % held-out after 40 steps (chance is 10 %).
  _, hist = trained
  assert hist["step"] == [20, 40] and hist["eval_step"] == [20, 40]
  assert hist["num_examples"] == 400
  assert hist["loss"][-1] < hist["loss"][0]
  assert hist["eval_accuracy"][-1] >= 0.4
  # accuracy() agrees with the history's last entry.
  params, _ = trained
  assert clf.accuracy(params, data.test.spectrograms, data.test.labels,
                      NUM_CLASSES) == pytest.approx(hist["eval_accuracy"][-1])


def test_shuffled_labels_stay_near_chance(data):
  rng = np.random.default_rng(0)
  labels = rng.permutation(data.train.labels)
  _, hist = clf.train_classifier(data.train.spectrograms, labels, NUM_CLASSES,
                                 _test_config(), eval_x=data.test.spectrograms,
                                 eval_y=data.test.labels)
  assert hist["eval_accuracy"][-1] <= 0.25


def test_training_is_deterministic_per_seed(data):
  x, y = data.train.spectrograms[:64], data.train.labels[:64]
  cfg = _test_config(num_steps=3)
  p1, h1 = clf.train_classifier(x, y, NUM_CLASSES, cfg)
  p2, h2 = clf.train_classifier(x, y, NUM_CLASSES, cfg)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(p1),
               jax.device_get(p2))
  assert h1["loss"] == h2["loss"]
  cfg.seed = 1
  p3, _ = clf.train_classifier(x, y, NUM_CLASSES, cfg)
  assert not np.array_equal(p1["logits"]["kernel"], p3["logits"]["kernel"])


def test_fewer_examples_than_the_batch_and_unlabelled_are_skipped(data):
  # 10 labelled clips (one per class would be the 0.5 % regime) among
  # unlabelled ones (-1); batch 16 spans successive epochs' permutations.
  y = np.full(40, -1, np.int32)
  y[:10] = data.train.labels[:10]
  _, hist = clf.train_classifier(data.train.spectrograms[:40], y, NUM_CLASSES,
                                 _test_config(num_steps=2))
  assert hist["num_examples"] == 10
  assert np.isfinite(hist["loss"]).all()


def test_bad_inputs_are_clear_errors(data):
  x = data.train.spectrograms[:4]
  with pytest.raises(ValueError, match="out of range"):
    clf.train_classifier(x, np.array([0, 1, 2, 10]), NUM_CLASSES)
  with pytest.raises(ValueError, match="no labelled example"):
    clf.train_classifier(x, np.full(4, -1), NUM_CLASSES)
  with pytest.raises(ValueError, match="spectrograms"):
    clf.train_classifier(x[..., 0], np.zeros(4, np.int32), NUM_CLASSES)


@pytest.fixture(scope="module")
def augment_fn():
  cfg = clf.default_classifier_config()
  cfg.max_freq_shift = 3
  return jax.jit(functools.partial(clf.augment_batch, config=cfg))


def test_augmentation_keeps_shapes_and_range_and_is_deterministic(
    data, augment_fn):
  x = np.asarray(data.train.spectrograms[:4], np.float32)
  a = np.asarray(augment_fn(jax.random.key(0), x))
  assert a.shape == x.shape and a.dtype == np.float32
  assert a.min() >= -1.0 and a.max() <= 1.0
  assert not np.array_equal(a, x)
  np.testing.assert_array_equal(a, augment_fn(jax.random.key(0), x))
  assert not np.array_equal(a, augment_fn(jax.random.key(1), x))
  # Every example gets its own draw.
  same = np.repeat(x[:1], 2, axis=0)
  b = np.asarray(augment_fn(jax.random.key(2), same))
  assert not np.array_equal(b[0], b[1])


def test_augmentation_rolls_time_and_paints_floor_patches(data):
  x = np.asarray(data.train.spectrograms[:4], np.float32)
  cfg = clf.default_classifier_config()
  cfg.noise_std, cfg.num_zero_patches = 0.0, 0
  rolled = np.asarray(clf.augment_batch(jax.random.key(3), x, cfg))
  for orig, aug in zip(x, rolled):
    shifts = [s for s in range(-8, 9)
              if np.array_equal(np.roll(orig, s, axis=1), aug)]
    assert shifts, "time augmentation must be a circular roll of <= 8 frames"
  cfg.max_time_shift, cfg.num_zero_patches = 0, 3
  patched = np.asarray(clf.augment_batch(jax.random.key(4), x, cfg))
  changed = patched != x
  assert changed.any()
  assert (patched[changed] == cfg.patch_value).all()
  # At most three rectangles of at most 32 x 16 per example.
  assert changed.reshape(len(x), -1).sum(1).max() <= 3 * 32 * 16


def test_save_load_round_trip_gives_identical_predictions(data, trained,
                                                          tmp_path):
  params, hist = trained
  x = data.test.spectrograms[:10]
  logits = clf.predict(params, x, NUM_CLASSES)
  assert logits.shape == (10, NUM_CLASSES) and logits.dtype == np.float32
  path = str(tmp_path / "sub" / "classifier.msgpack")
  meta = {"class_names": list(data.class_names), "steps": 40,
          "held_out_accuracy": np.float32(hist["eval_accuracy"][-1])}
  clf.save_classifier(path, params, NUM_CLASSES, meta)
  loaded = clf.load_classifier(path)
  assert loaded.num_classes == NUM_CLASSES
  assert loaded.meta["class_names"] == list(data.class_names)
  assert loaded.meta["held_out_accuracy"] == pytest.approx(
      hist["eval_accuracy"][-1])
  assert clf.widths_of(loaded.params) == TEST_WIDTHS
  np.testing.assert_array_equal(
      clf.predict(loaded.params, x, loaded.num_classes), logits)
  # Batching and padding do not change the answer; features come along.
  small, feats = clf.predict(params, x, NUM_CLASSES, batch_size=4,
                           return_features=True)
  np.testing.assert_allclose(small, logits, rtol=1e-5, atol=1e-5)
  assert feats.shape == (10, 16 * 8 * TEST_WIDTHS[-1])
  with pytest.raises(ValueError, match="classes"):
    clf.predict(params, x, NUM_CLASSES + 1)


def test_loading_a_non_classifier_file_is_a_one_line_value_error(tmp_path):
  junk = tmp_path / "junk.msgpack"
  junk.write_bytes(b"\x00not msgpack at all\xff" * 10)
  other = tmp_path / "generator.msgpack"
  other.write_bytes(flax.serialization.msgpack_serialize(
      {"format": export_lib.FORMAT, "version": 1, "params": {}}))
  newer = tmp_path / "newer.msgpack"
  newer.write_bytes(flax.serialization.msgpack_serialize(
      {"format": clf.FORMAT, "version": clf.VERSION + 1}))
  for path, match in [(junk, "not an audiogan_jax classifier"),
                      (other, "audiogan_jax.generator"),
                      (newer, "newer"),
                      (tmp_path / "missing.msgpack", "cannot read")]:
    with pytest.raises(ValueError, match=match) as e:
      clf.load_classifier(str(path))
    assert "\n" not in str(e.value)
