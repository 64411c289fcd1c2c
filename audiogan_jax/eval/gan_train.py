"""GAN-train (GAAE Tables IV-V): how well a classifier trained on generated
clips does on real ones (``audiogan-eval gan-train``)."""

from __future__ import annotations

import time
from typing import Any, Optional, Union

from absl import logging
import ml_collections
import numpy as np

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax.audio import spectrogram as spec_lib
from audiogan_jax.data import pipeline
from audiogan_jax.eval import classifier as clf
from audiogan_jax.eval.evaluate import class_map
from audiogan_jax.eval.evaluate import classifier_data_config
from audiogan_jax.eval.evaluate import generated_batches

Config = ml_collections.ConfigDict


def gan_train(model: Union[str, dict[str, Any]],
              classifier_config: Config, data_config: Config,
              num_samples: int = 10000, batch_size: int = 64, seed: int = 0,
              through_audio: bool = False, cache_dir: Optional[str] = None,
              clip: Optional[float] = None,
              modes: tuple[str, ...] = ("generated", "real+generated",
                                        "real")) -> dict[str, Any]:
  """GAN-train (GAAE Tables IV-V): a classifier trained on generated samples.

  Generates ``num_samples`` clips with balanced labels from a conditional
  generator, trains a fresh Simple Classifier (``classifier_config``) on
  them alone, on real + generated training clips, and on the real ones
  alone, each for the same steps, and scores each on the real test split.

  Returns:
    ``{"test_accuracy": {mode: accuracy}, "num_generated", "num_real",
    "steps", "seconds"}``.

  Raises:
    ValueError: an unconditional generator, or generator classes the data
      does not have.
  """
  if isinstance(model, str):
    model = export_lib.load_generator(model)
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  n_classes = family.num_classes(config)
  if not n_classes:
    raise ValueError(f"GAN-train needs a class-conditional generator; this "
                     f"{config.model.family} generator is unconditional")
  data = classifier_data_config(data_config)
  clip = float(data.spectrogram_clip) if clip is None else float(clip)
  run = ml_collections.ConfigDict({"data": data.to_dict()})
  ds = pipeline.load_dataset(run, cache_dir=cache_dir, with_test=True)
  mapping = class_map(tuple(model.get("class_names", ())), ds.class_names,
                       n_classes)
  if mapping is None:
    raise ValueError(f"the generator has {n_classes} classes but the data "
                     f"has {ds.num_classes} ({', '.join(ds.class_names)})")
  labels = np.arange(num_samples) % n_classes
  rng = np.random.default_rng(seed)
  rng.shuffle(labels)
  gen_x = np.empty((num_samples, spec_lib.NUM_FREQ, spec_lib.NUM_FRAMES, 1),
                   np.float16)
  t0 = time.perf_counter()
  i = 0
  for x, _ in generated_batches(model, num_samples, batch_size, seed, clip,
                                through_audio, labels):
    gen_x[i:i + len(x)] = x
    i += len(x)
  gen_y = mapping[labels].astype(np.int32)
  out: dict[str, Any] = {"test_accuracy": {}, "num_generated": num_samples,
                         "num_real": int(len(ds.train)),
                         "steps": int(classifier_config.num_steps)}
  for mode in modes:
    if mode == "generated":
      x, y = gen_x, gen_y
    elif mode == "real":
      x, y = ds.train.spectrograms, ds.train.true_labels
    elif mode == "real+generated":
      x = np.concatenate([np.asarray(ds.train.spectrograms, np.float16),
                          gen_x])
      y = np.concatenate([ds.train.true_labels, gen_y])
    else:
      raise ValueError(f"unknown GAN-train mode {mode!r}")
    _, hist = clf.train_classifier(x, y, ds.num_classes, classifier_config,
                                   eval_x=ds.test.spectrograms,
                                   eval_y=ds.test.true_labels)
    out["test_accuracy"][mode] = float(hist["eval_accuracy"][-1])
    logging.info("GAN-train (%s): real-test accuracy %.4f", mode,
                 out["test_accuracy"][mode])
  out["seconds"] = time.perf_counter() - t0
  return out
