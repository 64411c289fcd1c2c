"""The embedded dataset: synthetic spoken pseudo-words generated in numpy.

Every class is a word, a fixed sequence of speech-like phones, spoken once
per one-second clip. The first ten imitate the digits "zero" .. "nine"
(z-ɪ-r-oʊ, w-ʌ-n, t-u, θ-r-i, f-ɔ-r, f-aɪ-v, s-ɪ-k-s, s-ɛ-v-ə-n, eɪ-t,
n-aɪ-n); the others are pronounceable pseudo-words of one or two syllables
drawn once from the same inventory by a fixed scheme (the same words whatever
the data seed), no two with the same phones. The phones are:

* vowels: formant targets F1-F3 (adult male averages of Peterson & Barney
  1952, plus the neutral schwa ə), and the diphthongs aɪ, eɪ, oʊ, aʊ, ɔɪ,
  which glide from one target to another,
* fricatives: band-pass noise (s 4-8 kHz, ʃ 2.5-4.5 kHz, f and θ broad and
  weak), the voiced z, v, ð with the same bands over a low voicing murmur,
* stops: a closure (silent, or a faint voice bar for b, d, g), then a release
  burst centred by the place of articulation (p, b ~1 kHz; k, g ~2 kHz; t, d
  ~4 kHz) and, for p, t, k, a short aspiration,
* nasals m, n (a weak low-frequency murmur) and approximants r, w, l, j
  (voiced, weaker than a vowel, with their own formant targets),

with formant and loudness transitions across every boundary. So a class has
both a spectral identity (its vowels and consonants: the time-averaged
spectrum alone tells most classes apart) and a temporal one (the order of its
segments and its number of syllables, visible in the spectrogram and in the
loudness envelope).

Each example also has a speaker: a "low" or "high" voice (the second label,
which sets the f0 range and scales the formants like a shorter vocal tract),
and random onset, speaking rate (every segment's duration jittered too),
pitch contour and drift, formant jitter, frication and burst levels,
loudness, and background noise (white or pink at a random SNR).
``data.synthetic.kind="notes"`` selects the other embedded dataset, pitched
musical notes (``notes.py``); this one is ``kind="syllables"``, the default.

Synthesis is vectorised over a chunk of examples. A band-limited pulse train
(closed-form sum of equal harmonics up to ~4 kHz, phase-accumulated along the
pitch contour, gated by the voicing level of each segment) is shaped by a
per-frame spectral envelope (source tilt times a cascade of three formant
resonances) in a 50 %-overlap STFT, where per-frame band-shaped noise (the
frication and aspiration) is added; then the stop bursts and the background
noise are added. Every per-frame quantity is a piecewise-constant track over
the word's segments with smooth crossfades at the boundaries. Example ``i``
depends only on (seed, stream, i), so any prefix of a generated set is the
smaller set with the same seed.
"""

from __future__ import annotations

import ml_collections
import numpy as np
import scipy.fft

from audiogan_jax.audio.io import NUM_SAMPLES
from audiogan_jax.audio.io import SAMPLE_RATE
from audiogan_jax.data import notes
from audiogan_jax.data import synth_dsp
from audiogan_jax.data import words
from audiogan_jax.data.words import class_names
from audiogan_jax.data.sources import AudioSet

SPLIT_STREAMS = {"train": 0, "valid": 1, "test": 2}
KINDS = ("syllables", "notes")
GENDER_NAMES = ("low", "high")

_BANDWIDTHS = np.array([90.0, 110.0, 170.0])                       # Hz
_N_FFT = 512
_HOP = 256
_NUM_FRAMES = NUM_SAMPLES // _HOP + 1
_NUM_BINS = _N_FFT // 2 + 1
_MAX_HARMONIC_HZ = 4000.0
# Envelope bins: the source has no energy above 4 kHz, so higher bins are zero.
_NUM_ENV_BINS = int(4200.0 * _N_FFT / SAMPLE_RATE) + 1
_BURST_LEN = 1024
_BURST_ONSET = 64      # samples of silence before the burst in its buffer
_PITCH_STEP = 64       # samples between exact pitch / voicing evaluations
_EDGE = 0.04           # the word starts and ends this far inside the clip, s
_FAR = 1e3             # a boundary time that is never reached, s
# Frication amplitude per STFT bin of a 0 dB noise band (dB re a vowel),
# relative to the voiced spectrum's scale.
_NOISE_REF = 7.0
_CHUNK = 64  # examples rendered at once: large enough to vectorise, cache-sized

# Uniformly drawn per-example parameters: name -> (low, high) for the "low"
# voice, and for the "high" voice where it differs.
_UNIFORM_PARAMS = {
    "f0": ((85.0, 155.0), (165.0, 255.0)),         # mean pitch, Hz
    # A shorter vocal tract raises all formants by about the same factor.
    "fscale": ((0.95, 1.05), (1.07, 1.17)),
    "bw_scale": ((0.8, 1.3), None),
    # Pitch contour over the word, semitones:
    # depth * (lin * (2u - 1) + cos * cos(2 pi u)), u the word time in [0, 1].
    "depth": ((1.0, 3.0), None),
    "lin": ((-1.0, 0.6), None),                    # mostly falling
    "cos": ((-1.0, 1.0), None),
    "drift_amp": ((0.0, 0.3), None),               # slow pitch drift, semitones
    "drift_rate": ((3.0, 6.0), None),              # Hz
    "drift_phase": ((0.0, 2 * np.pi), None),
    "rate": ((0.85, 1.2), None),                   # duration scale (slowness)
    "center": ((-0.08, 0.08), None),                # offset from mid-clip, s
    "tilt_hz": ((150.0, 300.0), None),             # source roll-off corner
    "phase0": ((0.0, 1.0), None),
    "frication_db": ((-3.0, 3.0), None),
    "burst_dur": ((0.01, 0.025), None),            # seconds
    "burst_shift": ((-0.2, 0.2), None),            # octaves
    "burst_level": ((0.2, 0.4), None),             # peak relative to the word
    "gain_db": ((-12.0, 0.0), None),
    "pink": ((0.0, 1.0), None),                    # < 0.5: white noise
    "snr_db": ((10.0, 40.0), None),
}
_NUM_NOISE = (NUM_SAMPLES + _NUM_FRAMES * _NUM_BINS * 2 +
              words.BURSTS_MAX * _BURST_LEN)


def _draw_params(seed: int, stream: int, indices: np.ndarray,
                 labels: np.ndarray, genders: np.ndarray) -> dict:
  """Random parameters of the given examples, each from its own generator."""
  n = len(indices)
  num_uniform = len(_UNIFORM_PARAMS)
  uniforms = np.empty((n, num_uniform + words.SEG_MAX))
  jitter = np.empty((n, words.SEG_MAX + 2, 3))
  noise = np.empty((n, _NUM_NOISE), np.float32)
  for j, i in enumerate(indices):
    rng = np.random.default_rng([seed, stream, int(i)])
    uniforms[j] = rng.random(uniforms.shape[1])
    jitter[j] = rng.standard_normal((words.SEG_MAX + 2, 3))
    # Uniform white noise: spectrally the same as Gaussian, cheaper to draw.
    rng.random(out=noise[j], dtype=np.float32)
  p = {}
  high = genders == 1
  for col, (name, (low_range, high_range)) in enumerate(
      _UNIFORM_PARAMS.items()):
    lo, hi = np.full(n, low_range[0]), np.full(n, low_range[1])
    if high_range is not None:
      lo[high], hi[high] = high_range
    p[name] = lo + (hi - lo) * uniforms[:, col]
  p["dur_jitter"] = 0.85 + 0.3 * uniforms[:, num_uniform:]     # per segment
  p["pink"] = p["pink"] < 0.5
  p["fjitter"] = 0.04 * jitter          # ~4 % per formant and segment (log)
  noise -= 0.5
  p["noise"] = noise[:, :NUM_SAMPLES]
  frames = NUM_SAMPLES + _NUM_FRAMES * _NUM_BINS * 2
  p["frication_noise"] = noise[:, NUM_SAMPLES:frames].view(
      np.complex64).reshape(n, _NUM_FRAMES, _NUM_BINS)
  p["burst_noise"] = noise[:, frames:].reshape(n, words.BURSTS_MAX, _BURST_LEN)
  p["labels"] = labels
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


def _segment_weights(t: np.ndarray, bounds: np.ndarray,
                     half: np.ndarray) -> np.ndarray:
  """[B, Q, S + 2] weights of the silence-framed segments at times t [1, Q].

  ``bounds`` [B, S + 1] are the boundary times (boundary j ends segment j,
  counting the leading silence as 0; unused ones are _FAR) and ``half`` their
  crossfade half-widths. Each time is in one segment; within ``half`` of a
  boundary it crossfades (a smoothstep) into the neighbour.
  """
  b = len(bounds)
  k = (t[..., None] >= bounds[:, None, :]).sum(-1)            # [B, Q]
  ext_b = np.concatenate([np.full((b, 1), -_FAR), bounds,
                          np.full((b, 1), _FAR)], 1)
  ext_h = np.concatenate([np.ones((b, 1)), half, np.ones((b, 1))], 1)
  left = np.take_along_axis(ext_b, k, 1)
  right = np.take_along_axis(ext_b, k + 1, 1)
  a_left = 1.0 - synth_dsp.smoothstep(
      (t - left) / (2 * np.take_along_axis(ext_h, k, 1)) + 0.5)
  a_right = synth_dsp.smoothstep(
      (t - right) / (2 * np.take_along_axis(ext_h, k + 1, 1)) + 0.5)
  j = np.arange(bounds.shape[1] + 1)
  k = k[..., None]
  w = ((j == k) * (1.0 - a_left - a_right)[..., None] +
       (j == k - 1) * a_left[..., None] + (j == k + 1) * a_right[..., None])
  return w.astype(np.float32)


def _render(p: dict, out: np.ndarray) -> None:
  """Writes the float32 waveforms of B examples' parameters to out [B, T]."""
  b = len(p["f0"])
  tab = {k: v[p["labels"]] for k, v in words.TABLES.items()}
  # Per-sample arithmetic in float32: float64 would double the memory traffic.
  def col(name: str) -> np.ndarray:
    return p[name][:, None].astype(np.float32)

  # Segment timing: nominal durations times the speaking rate and a jitter
  # per segment; the word sits around mid-clip, wholly inside it.
  dur = tab["dur"] * p["rate"][:, None] * p["dur_jitter"]      # [B, S]
  length = dur.sum(1)
  clip_s = NUM_SAMPLES / SAMPLE_RATE
  t0 = np.clip(clip_s / 2 + p["center"] - length / 2, _EDGE,
               clip_s - _EDGE - length)
  bounds = t0[:, None] + np.concatenate([np.zeros((b, 1)),
                                         np.cumsum(dur, 1)], 1)  # [B, S + 1]
  used = np.arange(words.SEG_MAX + 1)[None] <= tab["n"][:, None]
  bounds_far = np.where(used, bounds, _FAR)
  # Crossfades are shorter than 40 % of either neighbour, so at most one
  # boundary is crossfading at any time.
  long_dur = np.where(dur > 0, dur, np.inf)
  inf = np.full((b, 1), np.inf)
  neighbour = np.minimum(np.concatenate([inf, long_dur], 1),
                         np.concatenate([long_dur, inf], 1))
  half = np.maximum(np.minimum(tab["cap"], 0.4 * neighbour), 1e-3)

  # Pitch and voicing amplitude are smooth, so they are evaluated every
  # _PITCH_STEP samples and interpolated linearly: at full rate their
  # transcendentals would cost more than the rest of the synthesis.
  tc_64 = np.arange(0, NUM_SAMPLES + 1, _PITCH_STEP) / SAMPLE_RATE
  tc = tc_64.astype(np.float32)[None, :]
  frac = np.arange(_PITCH_STEP, dtype=np.float32) / _PITCH_STEP

  def upsample(coarse: np.ndarray) -> np.ndarray:
    step = (coarse[:, 1:] - coarse[:, :-1])[..., None] * frac
    return (step + coarse[:, :-1, None]).reshape(b, NUM_SAMPLES)

  # Pitch: contour over the word + slow drift, in semitones around the
  # speaker's mean f0.
  u = np.clip((tc - t0[:, None]) / length[:, None], 0.0, 1.0).astype(
      np.float32)
  semis = col("depth") * (col("lin") * (2 * u - 1) +
                          col("cos") * np.cos(2 * np.pi * u))
  semis += col("drift_amp") * np.sin(
      2 * np.pi * col("drift_rate") * tc + col("drift_phase"))
  rel_f0 = np.exp2(semis * np.float32(1 / 12))
  w_coarse = _segment_weights(tc_64[None], bounds_far, half)
  env = np.einsum("bqs,bs->bq", w_coarse, tab["voice"].astype(np.float32))

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
  f0_max = p["f0"] * np.exp2(
      (p["depth"] * (np.abs(p["lin"]) + np.abs(p["cos"])) + p["drift_amp"]) /
      12.0)
  k = np.maximum(np.floor(_MAX_HARMONIC_HZ / f0_max), 1.0).astype(np.float32)
  half_phi = np.multiply(phi, np.float32(0.5))
  np.sin(half_phi, out=half_phi)
  near = np.nonzero(half_phi < 1e-3)
  half_phi[near] = 1.0
  source = np.multiply(phi, k[:, None] + np.float32(0.5))
  np.sin(source, out=source)
  source /= half_phi
  source[near] = 2 * k[near[0]] + 1
  source -= 1.0
  # Harmonics are 1/f0 apart, so the power under each formant goes as
  # amplitude^2 / f0; an amplitude ~ sqrt(f0) keeps loudness independent of
  # pitch.
  source *= upsample(np.sqrt(rel_f0) * env * (0.5 / k[:, None]))

  # Per-frame formants (log-frequency crossfades between the segments'
  # targets, jittered and scaled by the speaker) and bandwidths.
  frame_t = np.arange(_NUM_FRAMES) * _HOP / SAMPLE_RATE
  w_frames = _segment_weights(frame_t[None], bounds_far, half)  # [B, F, S+2]
  log_t = (tab["logf"] + p["fjitter"] +
           np.log(p["fscale"])[:, None, None]).astype(np.float32)
  formants = np.exp(w_frames @ log_t)                          # [B, F, 3]
  bw = w_frames @ tab["bw"].astype(np.float32)                 # [B, F, 3]

  # Cascade of three second-order resonances (unit gain at DC), in Hz units:
  # |H(f)|^2 = (s^2 + F^2)^2 / ((s^2 + (f - F)^2) (s^2 + (f + F)^2)), s = B/2,
  # whose denominator is (s^2 + F^2 + f^2)^2 - 4 f^2 F^2.
  freqs = (np.arange(_NUM_ENV_BINS) * SAMPLE_RATE / _N_FFT).astype(np.float32)
  f2 = freqs * freqs
  power = np.ones((b, _NUM_FRAMES, _NUM_ENV_BINS), np.float32)
  for j in range(3):
    s2 = (bw[..., j:j + 1] *
          (_BANDWIDTHS[j] / 2 * p["bw_scale"])[:, None, None].astype(
              np.float32)) ** 2
    fj2 = formants[..., j:j + 1] ** 2
    a = s2 + fj2
    q = a + f2
    power *= (a * a) / (q * q - f2 * (4 * fj2))
  power *= 1.0 / (1.0 + (freqs / col("tilt_hz")[:, None]) ** 2)  # -6 dB/oct

  # Frication and aspiration: each segment's noise band (power ~ f^8 below
  # the band and f^-4 above it: 24 and 12 dB/octave skirts), raised with the
  # speaker's formants, crossfaded per frame like the formants.
  all_f = np.maximum(np.arange(_NUM_BINS) * SAMPLE_RATE / _N_FFT, 1.0)
  scale = p["fscale"][:, None, None]
  lo = tab["noise_lo"][..., None] * scale
  hi = tab["noise_hi"][..., None] * scale
  band = 1.0 / np.sqrt((1.0 + (lo / all_f) ** 8) * (1.0 + (all_f / hi) ** 4))
  level = _NOISE_REF * 10 ** ((tab["noise_db"] + p["frication_db"][:, None])
                              / 20)
  noise_amp = w_frames @ (band * level[..., None]).astype(np.float32)

  window = np.sin(np.pi * np.arange(_N_FFT) / _N_FFT).astype(np.float32)
  spec = _stft(source, window)
  spec[..., :_NUM_ENV_BINS] *= np.sqrt(power)
  spec[..., _NUM_ENV_BINS:] = 0
  frication = p["frication_noise"] * noise_amp
  spec += frication
  voiced = _istft(spec, window)
  voiced /= np.abs(voiced).max(axis=1, keepdims=True) + 1e-9

  # Stop bursts: noise with a fast attack and exponential decay, band-passed
  # around the place's centre frequency (Gaussian in log-frequency, 0.6
  # octave), at the closure's release.
  n = np.arange(_BURST_LEN)[None, None, :]
  tau = (p["burst_dur"] * (SAMPLE_RATE / 4))[:, None, None]
  x = np.maximum(n - _BURST_ONSET, 0) / tau
  burst = p["burst_noise"] * (x * np.exp(1 - x)).astype(np.float32)
  bfreq = np.fft.rfftfreq(_BURST_LEN, 1 / SAMPLE_RATE)[None, None, :]
  centre = (tab["burst_hz"] * np.exp2(p["burst_shift"])[:, None] *
            p["fscale"][:, None])[..., None]
  octaves = np.log2(np.maximum(bfreq, 50.0) / centre)
  shape = (np.exp(-0.5 * (octaves / 0.6) ** 2) + 0.05).astype(np.float32)
  burst = scipy.fft.irfft(scipy.fft.rfft(burst, axis=-1) * shape,
                          n=_BURST_LEN, axis=-1)
  burst *= ((tab["burst_level"] * p["burst_level"][:, None])[..., None] /
            (np.abs(burst).max(axis=-1, keepdims=True) + 1e-9)).astype(
                np.float32)
  # The burst envelope x * exp(1 - x) peaks at x = 1, i.e. at the release.
  release = np.take_along_axis(bounds, tab["burst_seg"], 1)     # [B, K]
  offset = np.round(release * SAMPLE_RATE - _BURST_ONSET - tau[..., 0])
  offset = offset.astype(int) + _BURST_LEN
  padded = np.pad(voiced, ((0, 0), (_BURST_LEN, _BURST_LEN)))
  rows = np.arange(b)[:, None]
  for j in range(words.BURSTS_MAX):
    padded[rows, offset[:, j:j + 1] + n[0]] += burst[:, j]
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
  """Generates ``num_examples`` class-balanced pseudo-words (see module doc)."""
  if not 2 <= num_classes <= words.MAX_CLASSES:
    raise ValueError(f"--config.data.synthetic.num_classes={num_classes} must "
                     f"be between 2 and {words.MAX_CLASSES}")
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
  """Clips of ``num_samples`` (a multiple of 16384): words of one class
  one after another, e.g. four per 65536-sample clip.

  Example j (class j mod n) joins the clips of :func:`generate` at positions
  ``j mod n + n (m (j // n) + r)``, r = 0 .. m-1, which all have its class.
  The gender-like label is dropped (the joined words mix both voices).
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
