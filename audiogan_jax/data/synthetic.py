"""The embedded dataset: synthetic speech-like syllables generated in numpy.

Every class is a one-second voiced syllable made of the SAME three vowels
(/a/, /i/, /u/), each held for the same share of the syllable, with the same
pitch and loudness statistics and one consonant-like noise burst. Classes
differ only in how these are arranged in time:

* the vowel cycle: the formants (F1-F3) glide around the cycle a-i-u or a-u-i,
  starting (and ending) on one of the three vowels, e.g. "i-u-a-i". Every cycle
  holds all three glides and gives each vowel a third of the syllable,
* the pitch contour: rise, fall, rise-fall or fall-rise, each with zero mean in
  log-frequency,
* where the burst sits: before the syllable, in a closure in its middle (the
  syllable pauses there, it loses no voiced time), or after it.

So the time-averaged spectrum of a clip says almost nothing about its class,
while its spectrogram does: a model has to learn temporal structure. Each
example also has a speaker: a "low" or "high" voice (the second label, which
sets the f0 range and scales the formants like a shorter vocal tract), plus
random timing, syllable length, loudness, formant jitter and background noise.

``data.synthetic.kind="notes"`` selects the other embedded dataset, pitched
musical notes (``notes.py``); this one is ``kind="syllables"``, the default.

Synthesis is vectorised over a chunk of examples: a band-limited pulse train
(closed-form sum of equal harmonics up to ~4 kHz, phase-accumulated along the
pitch contour) is shaped by a per-frame spectral envelope (source tilt times a
cascade of three formant resonances) in a 50 %-overlap STFT, then the burst and
the background noise are added. Example ``i`` depends only on (seed, stream,
i), so any prefix of a generated set is the smaller set with the same seed.
"""

from __future__ import annotations

import itertools

import ml_collections
import numpy as np
import scipy.fft

from audiogan_jax.audio.io import NUM_SAMPLES
from audiogan_jax.audio.io import SAMPLE_RATE
from audiogan_jax.data import notes
from audiogan_jax.data import synth_dsp
from audiogan_jax.data.sources import AudioSet

SPLIT_STREAMS = {"train": 0, "valid": 1, "test": 2}
KINDS = ("syllables", "notes")
GENDER_NAMES = ("low", "high")

# Formant targets F1-F3 in Hz (adult male averages, Peterson & Barney 1952).
VOWELS = {"a": (730.0, 1090.0, 2440.0),
          "i": (270.0, 2290.0, 3010.0),
          "u": (300.0, 870.0, 2240.0)}
_VOWEL_TARGETS = np.array(list(VOWELS.values()), np.float64)      # [3, 3]
# The six vowel cycles: start vowel s, direction d -> (s, s + d, s + 2d).
_VOWEL_CYCLES = tuple((s, (s + d) % 3, (s + 2 * d) % 3)
                      for s in range(3) for d in (1, 2))
_BANDWIDTHS = np.array([90.0, 110.0, 170.0])                       # Hz

# Pitch contours as (linear, cosine) coefficients over syllable time u in
# [0, 1]: c(u) = lin * (2u - 1) + cos * cos(2 pi u). Both terms average to
# zero, so every contour has the same mean pitch.
CONTOURS = {"rise": (1.0, 0.0), "fall": (-1.0, 0.0),
            "rise-fall": (0.0, -1.0), "fall-rise": (0.0, 1.0)}
_CONTOUR_COEFS = np.array(list(CONTOURS.values()))
BURSTS = ("start", "middle", "end")

_N_FFT = 512
_HOP = 256
_NUM_FRAMES = NUM_SAMPLES // _HOP + 1
_MAX_HARMONIC_HZ = 4000.0
# Envelope bins: the source has no energy above 4 kHz, so higher bins are zero.
_NUM_ENV_BINS = int(4200.0 * _N_FFT / SAMPLE_RATE) + 1
_BURST_LEN = 1024
_BURST_ONSET = 64      # samples of silence before the burst in its buffer
_PITCH_STEP = 64       # samples between exact pitch-contour evaluations
_RAMP = 0.04           # voicing onset / offset, seconds
_CLOSURE_RAMP = 0.015  # voicing fade into / out of the mid-syllable closure
_CHUNK = 64  # examples rendered at once: large enough to vectorise, cache-sized

_CONSONANTS = "bdkmprstvzgn"
_NAME_VOWELS = "aiueo"


def _class_patterns() -> tuple[tuple[int, int, int], ...]:
  """(vowel cycle, contour, burst) of every class, most distinct ones first."""
  # Classes 0-11 cover all (contour, burst) pairs with vowel cycle
  # (contour + 2 * burst) % 6, so any two of them differ in at least two of
  # the three attributes; the remaining combinations follow in a fixed order.
  first = []
  for k in range(len(CONTOURS) * len(BURSTS)):
    c, b = k % len(CONTOURS), k % len(BURSTS)
    first.append(((c + 2 * b) % len(_VOWEL_CYCLES), c, b))
  rest = [p for p in itertools.product(range(len(_VOWEL_CYCLES)),
                                       range(len(CONTOURS)),
                                       range(len(BURSTS))) if p not in first]
  return tuple(first + rest)


CLASS_PATTERNS = _class_patterns()
MAX_CLASSES = len(CLASS_PATTERNS)


def class_names(num_classes: int) -> tuple[str, ...]:
  """Syllable-like names of the first ``num_classes`` classes (ba, di, ...)."""
  # 12 and 5 are coprime, so k -> (k % 12, k % 5) (consonant, vowel) is unique
  # for k < 60; the few classes beyond get a trailing "n".
  return tuple(_CONSONANTS[k % 12] + _NAME_VOWELS[k % 5] +
               ("n" if k >= 60 else "") for k in range(num_classes))


def describe_class(index: int) -> str:
  """Pattern of class ``index`` in words, e.g. 'a-i-u-a, rise, burst start'."""
  cycle, contour, burst = CLASS_PATTERNS[index]
  order = _VOWEL_CYCLES[cycle]
  vowels = "-".join(list(VOWELS)[v] for v in order + order[:1])
  return f"{vowels}, {list(CONTOURS)[contour]}, burst {BURSTS[burst]}"


# Uniformly drawn per-example parameters: name -> (low, high) for the "low"
# voice, and for the "high" voice where it differs.
_UNIFORM_PARAMS = {
    "f0": ((85.0, 155.0), (165.0, 255.0)),         # mean pitch, Hz
    # A shorter vocal tract raises all formants by about the same factor.
    "fscale": ((0.95, 1.05), (1.07, 1.17)),
    "bw_scale": ((0.8, 1.3), None),
    "depth": ((2.0, 4.0), None),                   # contour extent, semitones
    "drift_amp": ((0.0, 0.3), None),               # slow pitch drift, semitones
    "drift_rate": ((3.0, 6.0), None),              # Hz
    "drift_phase": ((0.0, 2 * np.pi), None),
    "length": ((0.44, 0.66), None),                # voiced length, seconds
    "gap": ((0.05, 0.08), None),                   # mid-syllable closure, s
    "center": ((-0.1, 0.1), None),                 # offset from mid-clip, s
    "trans": ((0.05, 0.08), None),                 # glide half-width, syllables
    "tilt_hz": ((150.0, 300.0), None),             # source roll-off corner
    "phase0": ((0.0, 1.0), None),
    "burst_dur": ((0.015, 0.035), None),           # seconds
    "burst_hz": ((2500.0, 5000.0), None),
    "burst_level": ((0.3, 0.6), None),             # peak relative to voicing
    "gain_db": ((-12.0, 0.0), None),
    "pink": ((0.0, 1.0), None),                    # < 0.5: white noise
    "snr_db": ((10.0, 40.0), None),
}


def _draw_params(seed: int, stream: int, indices: np.ndarray,
                 labels: np.ndarray, genders: np.ndarray) -> dict:
  """Random parameters of the given examples, each from its own generator."""
  n = len(indices)
  uniforms = np.empty((n, len(_UNIFORM_PARAMS)))
  jitter = np.empty((n, 3, 3))
  noise = np.empty((n, NUM_SAMPLES + _BURST_LEN), np.float32)
  for j, i in enumerate(indices):
    rng = np.random.default_rng([seed, stream, int(i)])
    uniforms[j] = rng.random(uniforms.shape[1])
    jitter[j] = rng.standard_normal((3, 3))
    # Uniform white noise: spectrally the same as Gaussian, 4x cheaper to draw.
    noise[j] = rng.random(noise.shape[1], np.float32)
  p = {}
  high = genders == 1
  for col, (name, (low_range, high_range)) in enumerate(
      _UNIFORM_PARAMS.items()):
    lo, hi = np.full(n, low_range[0]), np.full(n, low_range[1])
    if high_range is not None:
      lo[high], hi[high] = high_range
    p[name] = lo + (hi - lo) * uniforms[:, col]
  p["center"] += NUM_SAMPLES / SAMPLE_RATE / 2
  p["pink"] = p["pink"] < 0.5
  p["fjitter"] = np.exp(0.04 * jitter)          # ~4 % per formant and vowel
  noise -= 0.5
  p["noise"] = noise[:, :NUM_SAMPLES]
  p["burst_noise"] = noise[:, NUM_SAMPLES:]
  patterns = np.array([CLASS_PATTERNS[c] for c in labels]).reshape(n, 3)
  p["cycle"] = np.array(_VOWEL_CYCLES)[patterns[:, 0]]   # [n, 3]
  p["contour"] = _CONTOUR_COEFS[patterns[:, 1]]           # [n, 2]
  p["burst"] = patterns[:, 2]
  p["gap"] = np.where(p["burst"] == 1, p["gap"], 0.0)
  return p


def _stft(x: np.ndarray, window: np.ndarray) -> np.ndarray:
  """50 %-overlap STFT [B, T/hop + 1, bins], frame j centred on sample j*hop."""
  b = x.shape[0]
  blocks = x.reshape(b, -1, _HOP)
  frames = np.empty((b, blocks.shape[1] + 1, _N_FFT), np.float32)
  frames[:, 0, :_HOP] = 0
  frames[:, -1, _HOP:] = 0
  np.multiply(blocks, window[:_HOP], out=frames[:, 1:, :_HOP])
  np.multiply(blocks, window[_HOP:], out=frames[:, :-1, _HOP:])
  # scipy's float32 FFTs are several times faster than numpy's here.
  return scipy.fft.rfft(frames, axis=-1)


def _istft(spec: np.ndarray, window: np.ndarray) -> np.ndarray:
  """Inverse of _stft: sqrt-Hann analysis and synthesis windows sum to one."""
  y = scipy.fft.irfft(spec, n=_N_FFT, axis=-1)
  out = y[:, 1:, :_HOP] * window[:_HOP]
  out += y[:, :-1, _HOP:] * window[_HOP:]
  return out.reshape(len(out), -1)


def _render(p: dict, out: np.ndarray) -> None:
  """Writes the float32 waveforms of B examples' parameters to out [B, T]."""
  b = len(p["f0"])
  # Per-sample arithmetic in float32: float64 would double the memory traffic.
  def col(name: str) -> np.ndarray:
    return p[name][:, None].astype(np.float32)

  length, gap = col("length"), col("gap")
  t0 = col("center") - (length + gap) / 2   # voicing onset
  t_gap = t0 + length / 2                   # closure start (when gap > 0)

  def syllable_time(t: np.ndarray) -> np.ndarray:
    # Syllable time in [0, 1]; it stands still during the closure, so the
    # closure costs no voiced time and no vowel loses its share.
    warped = t - np.minimum(np.maximum(t - t_gap, 0.0), gap)
    return np.clip((warped - t0) / length, 0.0, 1.0)

  # Pitch and voicing amplitude are smooth, so they are evaluated every
  # _PITCH_STEP samples and interpolated linearly: at full rate their
  # transcendentals and ramps would cost more than the rest of the synthesis.
  tc = (np.arange(0, NUM_SAMPLES + 1, _PITCH_STEP, dtype=np.float32) /
        SAMPLE_RATE)[None, :]
  frac = np.arange(_PITCH_STEP, dtype=np.float32) / _PITCH_STEP

  def upsample(coarse: np.ndarray) -> np.ndarray:
    step = (coarse[:, 1:] - coarse[:, :-1])[..., None] * frac
    return (step + coarse[:, :-1, None]).reshape(b, NUM_SAMPLES)

  # Pitch: contour + slow drift, in semitones around the speaker's mean f0.
  u = syllable_time(tc)
  contour = p["contour"].astype(np.float32)
  lin, cos = contour[:, :1], contour[:, 1:]
  semis = col("depth") * (lin * (2 * u - 1) + cos * np.cos(2 * np.pi * u))
  semis += col("drift_amp") * np.sin(
      2 * np.pi * col("drift_rate") * tc + col("drift_phase"))
  rel_f0 = np.exp2(semis * np.float32(1 / 12))

  # Voicing: raised onset and offset, and (middle-burst classes) a fade out
  # and back in across the closure. Ramps are shorter than half of their
  # segments, so a smoothstep of the distance to the nearer edge equals the
  # product of the rising and falling ramps.
  t_end = t0 + length + gap
  env = synth_dsp.smoothstep(np.minimum(tc - t0, t_end - tc) * (1 / _RAMP))
  middle = np.flatnonzero(p["burst"] == 1)
  closed = synth_dsp.smoothstep(np.minimum(tc - t_gap[middle],
                                  t_gap[middle] + gap[middle] - tc) *
                       (1 / _CLOSURE_RAMP))
  env[middle] *= 1.0 - closed

  # Band-limited pulse train: sum_{k=1..K} cos(k phi) = (D(phi) - 1) / 2 with
  # D = sin((K + 1/2) phi) / sin(phi / 2), K fixed per example so the highest
  # harmonic stays below ~4 kHz. phi is in [0, 2 pi), so sin(phi / 2) >= 0 and
  # is tiny only next to a pulse, where D tends to 2K + 1.
  # A float32 running phase drifts by well under a cycle over the clip (a
  # sub-hertz pitch error) and is much cheaper than float64.
  # (In-place ufuncs below: every [B, T] temporary costs a pass of memory.)
  phi = np.cumsum(upsample(rel_f0 * (col("f0") / SAMPLE_RATE)), axis=1)
  phi += col("phase0")
  phi -= np.floor(phi)
  phi *= 2 * np.pi
  f0_max = p["f0"] * np.exp2((p["depth"] + p["drift_amp"]) / 12.0)
  k = np.maximum(np.floor(_MAX_HARMONIC_HZ / f0_max), 1.0).astype(np.float32)
  half = np.multiply(phi, np.float32(0.5))
  np.sin(half, out=half)
  near = np.nonzero(half < 1e-3)
  half[near] = 1.0
  source = np.multiply(phi, k[:, None] + np.float32(0.5))
  np.sin(source, out=source)
  source /= half
  source[near] = 2 * k[near[0]] + 1
  source -= 1.0
  # Harmonics are 1/f0 apart, so the power under each formant goes as
  # amplitude^2 / f0; an amplitude ~ sqrt(f0) keeps loudness independent of
  # pitch, so loudness carries no class cue.
  source *= upsample(np.sqrt(rel_f0) * env * (0.5 / k[:, None]))

  # Formant tracks per STFT frame: the cycle's vowels V1 V2 V3 V1 sit at
  # syllable times 0, 1/3, 2/3, 1, joined by smooth log-frequency glides
  # centred at 1/6, 1/2, 5/6 (so each vowel holds a third of the syllable).
  frame_t = (np.arange(_NUM_FRAMES, dtype=np.float32) * _HOP /
             SAMPLE_RATE)[None, :]
  uf = syllable_time(frame_t)[..., None]                       # [B, F, 1]
  targets = (_VOWEL_TARGETS[p["cycle"]] * p["fjitter"] *
             p["fscale"][:, None, None])                       # [B, 3, 3]
  log_t = np.log(targets).astype(np.float32)[:, None]          # [B, 1, 3, 3]
  w = col("trans")[..., None]
  log_f = log_t[:, :, 0]
  for j, centre in enumerate((1 / 6, 1 / 2, 5 / 6)):
    glide = synth_dsp.smoothstep((uf - (centre - w)) / (2 * w))
    log_f = log_f + glide * (log_t[:, :, (j + 1) % 3] - log_t[:, :, j])
  formants = np.exp(log_f)                                     # [B, F, 3]

  # Cascade of three second-order resonances (unit gain at DC), in Hz units:
  # |H(f)|^2 = (s^2 + F^2)^2 / ((s^2 + (f - F)^2) (s^2 + (f + F)^2)), s = B/2,
  # whose denominator is (s^2 + F^2 + f^2)^2 - 4 f^2 F^2.
  freqs = (np.arange(_NUM_ENV_BINS) * SAMPLE_RATE / _N_FFT).astype(np.float32)
  f2 = freqs * freqs
  power = np.ones((b, _NUM_FRAMES, _NUM_ENV_BINS), np.float32)
  for j in range(3):
    s2 = ((_BANDWIDTHS[j] * p["bw_scale"] / 2) ** 2)[:, None, None]
    fj2 = formants[..., j:j + 1] ** 2
    a = s2.astype(np.float32) + fj2
    q = a + f2
    power *= (a * a) / (q * q - f2 * (4 * fj2))
  power *= 1.0 / (1.0 + (freqs / col("tilt_hz")[:, None]) ** 2)  # -6 dB/oct

  window = np.sin(np.pi * np.arange(_N_FFT) / _N_FFT).astype(np.float32)
  spec = _stft(source, window)
  spec[..., :_NUM_ENV_BINS] *= np.sqrt(power)
  spec[..., _NUM_ENV_BINS:] = 0
  voiced = _istft(spec, window)
  voiced /= np.abs(voiced).max(axis=1, keepdims=True) + 1e-9

  # Burst: noise with a fast attack and exponential decay, band-passed around
  # a random centre frequency (Gaussian in log-frequency, 0.6 octave).
  n = np.arange(_BURST_LEN)[None, :]
  tau = col("burst_dur") * (SAMPLE_RATE / 4)
  x = np.maximum(n - _BURST_ONSET, 0) / tau
  burst = p["burst_noise"] * (x * np.exp(1 - x))
  bfreq = np.fft.rfftfreq(_BURST_LEN, 1 / SAMPLE_RATE)[None, :]
  octaves = np.log2(np.maximum(bfreq, 50.0) / col("burst_hz"))
  shape = (np.exp(-0.5 * (octaves / 0.6) ** 2) + 0.05).astype(np.float32)
  burst = scipy.fft.irfft(scipy.fft.rfft(burst, axis=1) * shape,
                          n=_BURST_LEN, axis=1)
  burst *= col("burst_level") / (np.abs(burst).max(axis=1, keepdims=True)
                                 + 1e-9)
  # A stop's release comes just before voicing (start), at the end of the
  # closure (middle) or after the voicing has died away (end).
  burst_t = np.select([p["burst"] == 0, p["burst"] == 1],
                      [t0[:, 0], (t_gap + gap)[:, 0] - 0.01],
                      t_end[:, 0] + 0.03)
  # The burst envelope x * exp(1 - x) peaks at x = 1, i.e. at burst_t.
  offset = np.round(burst_t * SAMPLE_RATE - _BURST_ONSET - tau[:, 0])
  padded = np.pad(voiced, ((0, 0), (_BURST_LEN, _BURST_LEN)))
  rows = np.arange(b)[:, None]
  padded[rows, offset.astype(int)[:, None] + _BURST_LEN + n] += burst
  clean = padded[:, _BURST_LEN:_BURST_LEN + NUM_SAMPLES]
  clean *= (0.8 * 10 ** (col("gain_db") / 20) /
            (np.abs(clean).max(axis=1, keepdims=True) + 1e-9))

  # Background noise, white or pink (1/f power), at the drawn SNR.
  noise = p["noise"]
  pink = p["pink"]
  if pink.any():
    f = np.fft.rfftfreq(NUM_SAMPLES, 1 / SAMPLE_RATE)
    shaped = scipy.fft.irfft(
        scipy.fft.rfft(noise[pink], axis=1) /
        np.sqrt(np.maximum(f, 20.0) / 20.0).astype(np.float32),
        n=NUM_SAMPLES, axis=1)
    noise = noise.copy()
    noise[pink] = shaped
  synth_dsp.mix_noise_floor(clean, noise, p["snr_db"], out)


def generate(num_examples: int, seed: int, num_classes: int = 10,
             stream: int = 0) -> AudioSet:
  """Generates ``num_examples`` class-balanced syllables (see module doc)."""
  if not 2 <= num_classes <= MAX_CLASSES:
    raise ValueError(f"--config.data.synthetic.num_classes={num_classes} must "
                     f"be between 2 and {MAX_CLASSES}")
  if num_examples < 0:
    raise ValueError(f"cannot generate {num_examples} synthetic examples; "
                     "use a count >= 0")
  if seed < 0:
    raise ValueError(f"--config.data.seed={seed} must be >= 0")
  idx = np.arange(num_examples)
  # Cycling through the classes (and the two voices within each class)
  # balances every prefix, which keeps subsets balanced too.
  labels = (idx % num_classes).astype(np.int32)
  genders = ((idx // num_classes) % 2).astype(np.int32)
  waves = np.empty((num_examples, NUM_SAMPLES), np.float32)
  for start in range(0, num_examples, _CHUNK):
    sl = slice(start, min(start + _CHUNK, num_examples))
    params = _draw_params(int(seed), int(stream), idx[sl], labels[sl],
                          genders[sl])
    _render(params, waves[sl])
  return AudioSet(waveforms=waves, labels=labels,
                  class_names=class_names(num_classes),
                  extra_labels={"gender": genders},
                  extra_class_names={"gender": GENDER_NAMES})


def generate_long(num_examples: int, num_samples: int, seed: int,
                  num_classes: int = 10, stream: int = 0) -> AudioSet:
  """Clips of ``num_samples`` (a multiple of 16384): syllables of one class
  one after another, e.g. four per 65536-sample clip.

  Example j (class j mod n) joins the clips of :func:`generate` at positions
  ``j mod n + n (m (j // n) + r)``, r = 0 .. m-1, which all have its class.
  The gender-like label is dropped (the joined syllables mix both voices).
  """
  if num_samples % NUM_SAMPLES or num_samples < NUM_SAMPLES:
    raise ValueError(f"--config.data.num_samples={num_samples}: synthetic "
                     f"clips are a multiple of {NUM_SAMPLES} samples long")
  m = num_samples // NUM_SAMPLES
  short = generate(num_examples * m + num_classes * m, seed, num_classes,
                   stream)
  j = np.arange(num_examples)
  idx = (j % num_classes)[:, None] + num_classes * (
      m * (j // num_classes)[:, None] + np.arange(m)[None, :])
  waves = short.waveforms[idx].reshape(num_examples, num_samples)
  return AudioSet(waveforms=np.ascontiguousarray(waves),
                  labels=(j % num_classes).astype(np.int32),
                  class_names=short.class_names)


def load(data_config: ml_collections.ConfigDict, split: str) -> AudioSet:
  """The ``split`` of the synthetic dataset described by ``data_config``."""
  if split not in SPLIT_STREAMS:
    raise ValueError(f"unknown split {split!r}; use one of "
                     f"{', '.join(SPLIT_STREAMS)}")
  cfg = data_config.get("synthetic", None) or ml_collections.ConfigDict()
  kind = str(cfg.get("kind", "syllables"))
  if kind not in KINDS:
    raise ValueError(f"unknown --config.data.synthetic.kind={kind!r}; use one "
                     f"of {', '.join(KINDS)}")
  # The pitch list is checked before anything is generated.
  pitches = (notes.parse_pitches(str(cfg.get("pitches",
                                             notes.DEFAULT_PITCHES)),
                                 highest=notes.MAX_PITCH)
             if kind == "notes" else ())
  counts = {"train": cfg.get("num_train", 2000),
            "valid": cfg.get("num_valid", 200),
            "test": cfg.get("num_test", 500)}
  num = int(counts[split])
  if num <= 0:
    raise ValueError(f"--config.data.synthetic.num_{split}={num} must be "
                     "positive to use this split")
  length = int(data_config.get("num_samples", NUM_SAMPLES))
  seed = int(data_config.get("seed", 0))
  if kind == "notes":
    # Notes are rendered at any length; num_classes does not apply (one
    # class per pitch).
    return notes.generate(num, seed, pitches, length,
                          stream=SPLIT_STREAMS[split])
  if length == NUM_SAMPLES:
    return generate(num, seed, int(cfg.get("num_classes", 10)),
                    stream=SPLIT_STREAMS[split])
  return generate_long(num, length, seed, int(cfg.get("num_classes", 10)),
                       stream=SPLIT_STREAMS[split])
