"""The embedded pitched dataset: synthetic musical notes generated in numpy.

Each example is one note at a MIDI pitch p (f0 = 440 * 2 ** ((p - 69) / 12)
Hz) played by one of four instrument-like families (the extra label
"instrument"), the way NSynth holds one note per clip:

* plucked: a 1-5 ms attack and an exponential decay; every harmonic is
  there, and the higher ones die away faster (the spectrum darkens as the
  note rings, like a plucked string),
* bowed: a slow (60-200 ms) attack, a sustained sawtooth-like tone (every
  harmonic, a gentle roll-off) and a vibrato,
* mallet: a struck bar: a few inharmonic partials at about 1, 3.9, 9.2 and
  16 times f0 (each slightly detuned per note), the higher ones quieter and
  shorter, with a short decay,
* reed: an organ / clarinet-like sustained tone of odd harmonics only.

The class label is the index of p in the sorted pitch list
(``data.synthetic.pitches``, "24-84" by default: NSynth's and GANSynth's 61
pitches), and the class names are the MIDI numbers as strings; the extra
label "pitch" is the same index with the same names, so ``data.label=pitch``
selects the pitch on this source as on NSynth or a folder of notes. Examples
cycle through the pitches, and through the instruments within each pitch, so
every prefix of a set is balanced. ``data.synthetic.num_classes`` does not
apply: the number of classes is the number of pitches.

Every note also varies at random: its harmonic roll-off (brightness), attack
and decay times, a slight vibrato (none on the mallet), an onset within the
first 50 ms, the note-off (75-95 % of the clip, then a short release), its
loudness and a faint white noise floor (35-55 dB below the note). No partial
above 7.5 kHz is synthesised, so nothing aliases, and the peak stays below 1.

Synthesis is vectorised over a chunk of examples. The phase follows the
vibrato in closed form (no running sum, so no drift). A harmonic series
sum_{j<J} rho^(1+mj) sin((1+mj) theta) (m = 1: every harmonic; m = 2: odd
ones) is the imaginary part of z (1 - z^(mJ)) / (1 - z^m), z = rho e^(i
theta): a few complex operations per sample whatever the number of
harmonics, with J cut at 7.5 kHz. A brightness rho that shrinks over time
makes harmonic k decay k times faster than the fundamental (the plucked
family). The mallet's few partials are summed directly. Example ``i``
depends only on (seed, stream, i) (and the clip length), so any prefix of a
generated set is the smaller set with the same seed.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

from audiogan_jax.audio.io import NUM_SAMPLES
from audiogan_jax.audio.io import SAMPLE_RATE
from audiogan_jax.data import synth_dsp
from audiogan_jax.data.sources import AudioSet

INSTRUMENTS = ("plucked", "bowed", "mallet", "reed")
_PLUCKED, _BOWED, _MALLET, _REED = range(len(INSTRUMENTS))
DEFAULT_PITCHES = "24-84"
MIDI_PITCHES = (0, 127)
MAX_PARTIAL_HZ = 7500.0    # no partial above this: far from Nyquist (8 kHz)
PITCHES_FLAG = "--config.data.synthetic.pitches"

# A struck bar's partials relative to f0 (tuned-bar-like, inharmonic), their
# relative amplitudes, and how fast each decays relative to the fundamental.
_MALLET_RATIOS = np.array([1.0, 3.9, 9.2, 16.0])
_MALLET_AMPS = np.array([1.0, 0.45, 0.2, 0.08])
_MALLET_DECAY = _MALLET_RATIOS ** 0.8

# Uniformly drawn per-example parameters: name -> one (low, high) range for
# every instrument, or one per instrument (plucked, bowed, mallet, reed).
_UNIFORM_PARAMS = {
    "attack": ((0.001, 0.005), (0.06, 0.2), (0.0005, 0.002), (0.02, 0.08)),
    # Amplitude decay time constant, s; sustained families barely decay.
    "decay": ((0.4, 1.5), (3.0, 8.0), (0.15, 0.6), (4.0, 10.0)),
    # Harmonic k has amplitude rho ** k (mallet: unused).
    "rho": ((0.82, 0.94), (0.8, 0.92), (0.0, 0.0), (0.6, 0.85)),
    # Time constant of the brightness decay, s: harmonic k of a plucked note
    # decays at k / tau on top of the amplitude decay.
    "bright_tau": ((0.15, 0.6), (1e3, 1e3), (1e3, 1e3), (1e3, 1e3)),
    "vibrato": ((0.0, 0.02), (0.03, 0.15), (0.0, 0.0), (0.0, 0.08)),  # semis
    "vib_rate": ((4.5, 6.5),),                    # Hz
    "vib_phase": ((0.0, 2 * np.pi),),
    "onset": ((0.0, 0.05),),                      # seconds
    "note_off": ((0.75, 0.95),),                  # share of the clip
    "release": ((0.03, 0.12),),                   # seconds
    "phase0": ((0.0, 1.0),),                      # cycles
    "gain_db": ((-12.0, 0.0),),
    "snr_db": ((35.0, 55.0),),
}
_MAX_VIBRATO = max(hi for _, hi in _UNIFORM_PARAMS["vibrato"])
_CHUNK_SAMPLES = 64 * NUM_SAMPLES  # samples rendered at once (64 1-s clips)


def midi_to_hz(pitch) -> np.ndarray:
  """Frequency in Hz of MIDI pitch(es): 440 * 2 ** ((p - 69) / 12)."""
  return 440.0 * np.exp2((np.asarray(pitch, np.float64) - 69.0) / 12.0)


def _highest_pitch() -> int:
  """The highest MIDI pitch whose fundamental (with vibrato) stays below the
  partial limit."""
  p = MIDI_PITCHES[1]
  while midi_to_hz(p) * 2 ** (_MAX_VIBRATO / 12) >= MAX_PARTIAL_HZ:
    p -= 1
  return p


MAX_PITCH = _highest_pitch()   # 117 (7040 Hz)
_ITEM = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")


def parse_pitches(value: str, flag: str = PITCHES_FLAG,
                  highest: int = MIDI_PITCHES[1]) -> tuple[int, ...]:
  """Sorted MIDI pitches of a string such as "24-84" or "48,55,60,67".

  Items are comma-separated; each is one MIDI number or an inclusive range
  "lo-hi" (so "24-36,48" works too). "" gives (). A malformed item, a pitch
  outside 0..``highest`` or a pitch listed twice is a one-line ValueError
  naming ``flag``.
  """
  text = str(value).strip()
  if not text:
    return ()
  usage = "use a range like '24-84' or a list like '48,55,60,67'"
  pitches = []
  for item in text.split(","):
    m = _ITEM.match(item.strip())
    if not m:
      raise ValueError(f"{flag}={value!r}: {item.strip()!r} is not a MIDI "
                       f"pitch or range; {usage}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if lo > hi:
      raise ValueError(f"{flag}={value!r}: the range {lo}-{hi} is empty; "
                       f"write it low to high, e.g. '{hi}-{lo}'")
    if hi > highest:
      why = ("MIDI pitches are 0-127" if highest == MIDI_PITCHES[1] else
             f"a note above {highest} has its fundamental too close to the "
             f"{MAX_PARTIAL_HZ / 1000:g} kHz partial limit")
      raise ValueError(f"{flag}={value!r}: pitch {hi} is too high ({why}); "
                       f"use pitches 0-{highest}")
    pitches.extend(range(lo, hi + 1))
  if len(set(pitches)) != len(pitches):
    dup = sorted({p for p in pitches if pitches.count(p) > 1})
    raise ValueError(f"{flag}={value!r} lists pitch(es) {dup} more than once; "
                     "give every pitch exactly once")
  return tuple(sorted(pitches))


def format_pitches(pitches: Iterable[int]) -> str:
  """The short form of a pitch list: runs as ranges, e.g. "24-84,96"."""
  runs, out = [], []
  for p in sorted(int(q) for q in pitches):
    if runs and p == runs[-1][1] + 1:
      runs[-1][1] = p
    else:
      runs.append([p, p])
  for lo, hi in runs:
    out.append(str(lo) if lo == hi else f"{lo}-{hi}")
  return ",".join(out)


def pitch_names(pitches: Sequence[int]) -> tuple[str, ...]:
  """Class names of a pitch list: the MIDI numbers as strings."""
  return tuple(str(int(p)) for p in pitches)


def _draw_params(seed: int, stream: int, indices: np.ndarray,
                 pitches: np.ndarray, instruments: np.ndarray,
                 num_samples: int) -> dict:
  """Random parameters of the given examples, each from its own generator."""
  n = len(indices)
  uniforms = np.empty((n, len(_UNIFORM_PARAMS)))
  mallet = np.empty((n, 2, len(_MALLET_RATIOS)))
  noise = np.empty((n, num_samples), np.float32)
  for j, i in enumerate(indices):
    rng = np.random.default_rng([seed, stream, int(i)])
    uniforms[j] = rng.random(uniforms.shape[1])
    mallet[j] = rng.random(mallet.shape[1:])
    # Uniform white noise: spectrally the same as Gaussian, cheaper to draw.
    noise[j] = rng.random(num_samples, np.float32)
  p = {}
  for col, (name, ranges) in enumerate(_UNIFORM_PARAMS.items()):
    table = np.array(ranges * (len(INSTRUMENTS) if len(ranges) == 1 else 1))
    lo, hi = table[instruments, 0], table[instruments, 1]
    p[name] = lo + (hi - lo) * uniforms[:, col]
  p["f0"] = midi_to_hz(pitches)
  p["instrument"] = instruments
  # Mallet partials: the overtones detuned by up to +-1.5 %, amplitudes
  # scaled by 0.6-1.4.
  ratios = _MALLET_RATIOS * (1.0 + 0.03 * (mallet[:, 0] - 0.5))
  ratios[:, 0] = 1.0
  p["mallet_ratios"] = ratios
  p["mallet_amps"] = _MALLET_AMPS * (0.6 + 0.8 * mallet[:, 1])
  noise -= 0.5
  p["noise"] = noise
  return p


def _harmonic_series(log_rho: np.ndarray, cycles: np.ndarray,
                     step: np.ndarray, count: np.ndarray) -> np.ndarray:
  """sum_{j<J} rho^(1+mj) sin(2 pi (1+mj) cycles), in closed form.

  Args:
    log_rho: [B, T] log of the per-sample harmonic ratio rho (< 1).
    cycles: [B, T] float64 phase in cycles.
    step: [B] m: 1 for every harmonic, 2 for odd ones.
    count: [B] J, the number of harmonics kept.

  Returns:
    [B, T] float32.
  """
  # With z = rho e^(i theta): sum_{j<J} z^(1+mj) = z (1 - z^(mJ)) / (1 - z^m).
  # Phases are reduced to [0, 1) cycles in float64 before the float32
  # transcendentals, so even the highest harmonic's phase is exact.
  frac = cycles - np.floor(cycles)
  top = (step * count)[:, None].astype(np.float64)
  top_frac = frac * top
  top_frac -= np.floor(top_frac)
  two_pi = np.float32(2 * np.pi)
  z = np.exp(log_rho + 1j * (two_pi * frac.astype(np.float32)))
  z = z.astype(np.complex64)
  z_top = np.exp(log_rho * top.astype(np.float32) +
                 1j * (two_pi * top_frac.astype(np.float32))).astype(
                     np.complex64)
  z_step = np.where((step == 2)[:, None], z * z, z)
  # |1 - z^m| >= 1 - rho^m > 0: rho stays below 0.95, so no division blows up.
  return ((z * (1 - z_top)) / (1 - z_step)).imag.astype(np.float32)


def _render(p: dict, out: np.ndarray) -> None:
  """Writes the float32 waveforms of B examples' parameters to out [B, T]."""
  b, num_samples = out.shape
  def col(name: str) -> np.ndarray:
    return p[name][:, None]

  t = (np.arange(num_samples) / SAMPLE_RATE)[None, :]           # float64
  # Phase in cycles with a sinusoidal vibrato of depth d semitones: the
  # frequency f0 (1 + delta sin(w t + phi)), delta = d ln2 / 12, integrates
  # to f0 t - f0 delta / w (cos(w t + phi) - cos(phi)).
  f0 = col("f0")
  delta = col("vibrato") * np.log(2) / 12
  w = 2 * np.pi * col("vib_rate")
  cycles = f0 * t + f0 * delta / w * (np.cos(col("vib_phase")) -
                                      np.cos(w * t + col("vib_phase")))
  cycles += col("phase0")

  # Envelope: silent until the onset, a smooth attack, an exponential decay,
  # then a release after the note-off.
  since = np.maximum(t - col("onset"), 0.0).astype(np.float32)  # [B, T]
  env = synth_dsp.smoothstep(since / col("attack").astype(np.float32))
  env *= np.exp(-since / col("decay").astype(np.float32))
  off = col("note_off") * num_samples / SAMPLE_RATE
  released = np.maximum(t - off, 0.0).astype(np.float32)
  env *= np.exp(-released / col("release").astype(np.float32))

  clean = np.zeros((b, num_samples), np.float32)
  # The highest partial (with the vibrato's peak) stays below MAX_PARTIAL_HZ.
  f_top = p["f0"] * (1 + p["vibrato"] * np.log(2) / 12) * 1.01

  inst = p["instrument"]
  rows = np.flatnonzero(inst != _MALLET)
  if len(rows):
    step = np.where(inst[rows] == _REED, 2, 1)
    harmonics = np.maximum(np.floor(MAX_PARTIAL_HZ / f_top[rows]), 1)
    count = ((harmonics - 1) // step + 1).astype(np.int64)
    log_rho = (np.log(p["rho"][rows])[:, None].astype(np.float32) -
               since[rows] / p["bright_tau"][rows, None].astype(np.float32))
    clean[rows] = _harmonic_series(log_rho, cycles[rows], step, count)

  rows = np.flatnonzero(inst == _MALLET)
  if len(rows):
    ratios = p["mallet_ratios"][rows]
    # Partials above the limit are dropped (zero amplitude).
    amps = np.where(ratios * f_top[rows, None] < MAX_PARTIAL_HZ,
                    p["mallet_amps"][rows], 0.0)
    decay = p["decay"][rows, None] / _MALLET_DECAY[None, :]
    for k in range(ratios.shape[1]):
      phase = cycles[rows] * ratios[:, k:k + 1]
      phase -= np.floor(phase)
      partial = np.sin(np.float32(2 * np.pi) * phase.astype(np.float32))
      # The overall envelope already holds the fundamental's decay.
      extra = (1 / decay[:, k:k + 1] - 1 / p["decay"][rows, None]).astype(
          np.float32)
      partial *= (amps[:, k:k + 1].astype(np.float32) *
                  np.exp(-since[rows] * extra))
      clean[rows] += partial

  clean *= env
  clean *= (0.8 * 10 ** (col("gain_db") / 20) /
            (np.abs(clean).max(axis=1, keepdims=True) + 1e-9)).astype(
                np.float32)

  # A faint white noise floor at the drawn SNR.
  noise = p["noise"]
  synth_dsp.mix_noise_floor(clean, noise, p["snr_db"], out)


def generate(num_examples: int, seed: int,
             pitches: Sequence[int] = parse_pitches(DEFAULT_PITCHES),
             num_samples: int = NUM_SAMPLES, stream: int = 0) -> AudioSet:
  """Generates ``num_examples`` pitch-balanced notes (see module doc).

  Args:
    num_examples: How many clips.
    seed: The dataset seed.
    pitches: The MIDI pitches (e.g. ``parse_pitches("24-84")``); sorted,
      their order is the class order.
    num_samples: Clip length in samples at 16 kHz.
    stream: The split's random stream (train 0, valid 1, test 2).

  Returns:
    The AudioSet: class label = pitch index, extra labels "pitch" (the same)
    and "instrument".
  """
  pitches = tuple(int(q) for q in pitches)
  spec = format_pitches(pitches)
  if not pitches:
    raise ValueError(f"{PITCHES_FLAG}='' lists no pitch; use a range like "
                     f"'{DEFAULT_PITCHES}' or a list like '48,55,60,67'")
  if list(pitches) != sorted(set(pitches)):
    raise ValueError(f"{PITCHES_FLAG}={spec!r} must be sorted and distinct; "
                     "parse it with notes.parse_pitches")
  if pitches[0] < MIDI_PITCHES[0] or pitches[-1] > MAX_PITCH:
    raise ValueError(f"{PITCHES_FLAG}={spec!r}: synthetic notes go from "
                     f"{MIDI_PITCHES[0]} to {MAX_PITCH}; drop the others")
  if num_examples < 0:
    raise ValueError(f"cannot generate {num_examples} synthetic examples; "
                     "use a count >= 0")
  if seed < 0:
    raise ValueError(f"--config.data.seed={seed} must be >= 0")
  if num_samples < 1:
    raise ValueError(f"--config.data.num_samples={num_samples} must be "
                     "positive")
  idx = np.arange(num_examples)
  # Cycling through the pitches (and the instruments within each pitch)
  # balances every prefix, which keeps subsets balanced too.
  labels = (idx % len(pitches)).astype(np.int32)
  instruments = ((idx // len(pitches)) % len(INSTRUMENTS)).astype(np.int32)
  midi = np.asarray(pitches)[labels]
  waves = np.empty((num_examples, num_samples), np.float32)
  chunk = max(1, _CHUNK_SAMPLES // num_samples)
  for start in range(0, num_examples, chunk):
    sl = slice(start, min(start + chunk, num_examples))
    params = _draw_params(int(seed), int(stream), idx[sl], midi[sl],
                          instruments[sl], num_samples)
    _render(params, waves[sl])
  names = pitch_names(pitches)
  return AudioSet(waveforms=waves, labels=labels, class_names=names,
                  extra_labels={"pitch": labels.copy(),
                                "instrument": instruments},
                  extra_class_names={"pitch": names,
                                     "instrument": INSTRUMENTS})
