"""The embedded dataset's words: the phone inventory, the ten digits and the
generated words of up to 72 classes, and their per-class segment tables.

:mod:`audiogan_jax.data.synthetic` renders these words as speech-like clips.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


# The phone inventory.

# Vowel formant targets F1-F3 in Hz (adult male averages, Peterson & Barney
# 1952; ə is the neutral tube).
VOWELS = {"i": (270.0, 2290.0, 3010.0), "ɪ": (390.0, 1990.0, 2550.0),
          "ɛ": (530.0, 1840.0, 2480.0), "æ": (660.0, 1720.0, 2410.0),
          "ɑ": (730.0, 1090.0, 2440.0), "ɔ": (570.0, 840.0, 2410.0),
          "ʊ": (440.0, 1020.0, 2240.0), "u": (300.0, 870.0, 2240.0),
          "ʌ": (640.0, 1190.0, 2390.0), "ɝ": (490.0, 1350.0, 1690.0),
          "ə": (500.0, 1500.0, 2500.0)}
# Diphthongs glide from the first target to the second.
DIPHTHONGS = {"aɪ": ((730.0, 1250.0, 2450.0), (400.0, 1950.0, 2600.0)),
              "eɪ": ((480.0, 1900.0, 2500.0), (330.0, 2200.0, 2900.0)),
              "oʊ": ((540.0, 900.0, 2400.0), (350.0, 870.0, 2250.0)),
              "aʊ": ((730.0, 1250.0, 2450.0), (400.0, 900.0, 2250.0)),
              "ɔɪ": ((570.0, 840.0, 2410.0), (400.0, 1950.0, 2600.0))}
_TENSE = "iuɑɔɝæ"     # long vowels; the others are short (lax)
# Formant loci of the consonants' places of articulation: the targets the
# neighbouring vowels' formants move to and from.
_LOCI = {"labial": (300.0, 900.0, 2200.0),
         "labiodental": (300.0, 1100.0, 2300.0),
         "dental": (300.0, 1500.0, 2600.0),
         "alveolar": (300.0, 1700.0, 2600.0),
         "postalveolar": (300.0, 1900.0, 2600.0),
         "velar": (300.0, 1900.0, 2300.0)}
# Fricatives: noise band (low, high Hz), level (dB re a vowel), voiced,
# place, duration (s).
FRICATIVES = {"s": (4000.0, 8000.0, -10.0, False, "alveolar", 0.11),
              "z": (4000.0, 8000.0, -15.0, True, "alveolar", 0.09),
              "ʃ": (2500.0, 4500.0, -10.0, False, "postalveolar", 0.11),
              "f": (1200.0, 8000.0, -17.0, False, "labiodental", 0.10),
              "v": (1200.0, 8000.0, -20.0, True, "labiodental", 0.07),
              "θ": (2000.0, 8000.0, -18.0, False, "dental", 0.10),
              "ð": (2000.0, 8000.0, -21.0, True, "dental", 0.06)}
# Stops: burst centre (Hz), voiced, place.
STOPS = {"p": (1000.0, False, "labial"), "b": (1000.0, True, "labial"),
         "t": (4000.0, False, "alveolar"), "d": (4000.0, True, "alveolar"),
         "k": (2000.0, False, "velar"), "g": (2000.0, True, "velar")}
# Nasals and approximants: formants (Hz), bandwidth multipliers (the nasals'
# wide upper resonances leave a low murmur), voicing level, duration (s).
SONORANTS = {"m": ((250.0, 1100.0, 2300.0), (1.2, 3.0, 3.0), 0.42, 0.08),
             "n": ((250.0, 1700.0, 2700.0), (1.2, 3.0, 3.0), 0.42, 0.08),
             "r": ((310.0, 1060.0, 1380.0), (1.0, 1.0, 1.0), 0.5, 0.065),
             "w": ((290.0, 610.0, 2150.0), (1.0, 1.0, 1.0), 0.5, 0.065),
             "l": ((360.0, 1300.0, 2700.0), (1.0, 1.5, 1.5), 0.5, 0.065),
             "j": ((260.0, 2070.0, 3020.0), (1.0, 1.0, 1.0), 0.5, 0.065)}

# Readable spellings, for the generated words' names.
_SPELLING = {"i": "ee", "ɪ": "i", "ɛ": "e", "æ": "a", "ɑ": "ah", "ɔ": "aw",
             "ʊ": "ou", "u": "oo", "ʌ": "u", "ɝ": "er", "ə": "uh",
             "aɪ": "ai", "eɪ": "ay", "oʊ": "oh", "aʊ": "ow", "ɔɪ": "oy",
             "θ": "th", "ð": "dh", "ʃ": "sh", "j": "y"}

DIGITS = (("zero", ("z", "ɪ", "r", "oʊ")), ("one", ("w", "ʌ", "n")),
          ("two", ("t", "u")), ("three", ("θ", "r", "i")),
          ("four", ("f", "ɔ", "r")), ("five", ("f", "aɪ", "v")),
          ("six", ("s", "ɪ", "k", "s")),
          ("seven", ("s", "ɛ", "v", "ə", "n")), ("eight", ("eɪ", "t")),
          ("nine", ("n", "aɪ", "n")))

MAX_CLASSES = 72
SEG_MAX = 10       # segments per word (a stop or a diphthong takes two)
BURSTS_MAX = 3     # stops per word
_MAX_WORD_S = 0.62  # nominal word length at the median speaking rate


class _Seg(NamedTuple):
  """One steady stretch of a word; neighbours crossfade at the boundary."""
  dur: float                                  # seconds at rate 1
  voice: float                                # voicing amplitude
  formants: tuple[float, float, float]        # Hz
  bandwidth: tuple[float, float, float] = (1.0, 1.0, 1.0)  # multipliers
  noise: tuple[float, float, float] | None = None  # (low Hz, high Hz, dB)
  glide: bool = False                         # slow glide into the next one


def _is_vowel(phone: str) -> bool:
  return phone in VOWELS or phone in DIPHTHONGS


def _segments(phones: tuple[str, ...]):
  """The segments of a word and its bursts (release segment, Hz, level)."""
  segs, bursts = [], []
  for pos, ph in enumerate(phones):
    final = pos == len(phones) - 1
    stretch = 1.3 if final else 1.0   # an open final syllable is long
    if ph in DIPHTHONGS:
      a, b = DIPHTHONGS[ph]
      segs += [_Seg(0.12 * stretch, 1.0, a, glide=True),
               _Seg(0.10 * stretch, 1.0, b)]
    elif ph == "ə":
      segs.append(_Seg(0.065, 0.55, VOWELS[ph]))
    elif ph in VOWELS:
      segs.append(_Seg((0.16 if ph in _TENSE else 0.12) * stretch, 1.0,
                       VOWELS[ph]))
    elif ph in FRICATIVES:
      lo, hi, db, voiced, place, dur = FRICATIVES[ph]
      _, f2, f3 = _LOCI[place]
      segs.append(_Seg(dur, 0.25 if voiced else 0.0, (250.0, f2, f3),
                       (1.0, 2.0, 2.0), (lo, hi, db)))
    elif ph in STOPS:
      hz, voiced, place = STOPS[ph]
      f1, f2, f3 = _LOCI[place]
      if voiced:   # a short closure with a faint voice bar
        segs.append(_Seg(0.05, 0.06, (200.0, f2, f3), (1.0, 3.0, 3.0)))
        bursts.append((len(segs), hz, 0.5))
      else:        # a silent closure, the burst, then aspiration
        segs.append(_Seg(0.06, 0.0, (f1, f2, f3)))
        bursts.append((len(segs), hz, 1.0))
        segs.append(_Seg(0.045, 0.0, (f1, f2, f3),
                         noise=(hz / 1.7, min(hz * 1.7, 7800.0), -16.0)))
    elif ph in SONORANTS:
      formants, bw, voice, dur = SONORANTS[ph]
      segs.append(_Seg(dur * (1.25 if final else 1.0), voice, formants, bw))
    else:
      raise ValueError(f"unknown phone {ph!r}")
  return segs, bursts


def _word_ok(phones: tuple[str, ...]) -> bool:
  segs, bursts = _segments(phones)
  return (len(segs) <= SEG_MAX and len(bursts) <= BURSTS_MAX and
          sum(s.dur for s in segs) <= _MAX_WORD_S)


def _spell(phones: tuple[str, ...]) -> str:
  return "".join(_SPELLING.get(p, p) for p in phones)


def _generated_words(count: int, taken: list[tuple[str, tuple[str, ...]]]):
  """``count`` more (name, phones) pseudo-words from a fixed random scheme.

  One syllable (onset? nucleus coda?) or two (onset? nucleus coda?, onset
  nucleus coda?), the first nucleus a full vowel or diphthong, the second any
  vowel. A word is kept when it fits the length limits, is spelled unlike
  every earlier word and has a set of phones no earlier word has.
  """
  rng = np.random.default_rng(1952)
  full = [v for v in VOWELS if v != "ə"] + list(DIPHTHONGS)
  any_vowel = list(VOWELS) + list(DIPHTHONGS)
  onsets = list(STOPS) + list(FRICATIVES) + list(SONORANTS)
  codas = [c for c in onsets if c not in "wj"]
  names = {n for n, _ in taken}
  bags = {tuple(sorted(p)) for _, p in taken}
  words = []

  def pick(options, p_none=0.0):
    return () if rng.random() < p_none else (
        options[rng.integers(len(options))],)

  while len(words) < count:
    phones = pick(onsets, 0.15) + pick(full) + pick(codas, 0.45)
    if rng.random() < 0.5:
      phones += pick(onsets) + pick(any_vowel) + pick(codas, 0.5)
    bag = tuple(sorted(phones))
    name = _spell(phones)
    if (any(a == b for a, b in zip(phones, phones[1:])) or
        not _word_ok(phones) or name in names or bag in bags):
      continue
    names.add(name)
    bags.add(bag)
    words.append((name, phones))
  return words


_WORDS = tuple(DIGITS) + tuple(_generated_words(MAX_CLASSES - len(DIGITS),
                                                list(DIGITS)))
CLASS_NAMES = tuple(n for n, _ in _WORDS)
CLASS_PHONES = tuple(p for _, p in _WORDS)


def class_names(num_classes: int) -> tuple[str, ...]:
  """Names of the first ``num_classes`` classes ("zero", "one", ...)."""
  return CLASS_NAMES[:num_classes]


def num_syllables(index: int) -> int:
  """Vowels (syllable nuclei) in the word of class ``index``."""
  return sum(_is_vowel(p) for p in CLASS_PHONES[index])


def describe_class(index: int) -> str:
  """Phones of class ``index`` in words, e.g. 'z-ɪ-r-oʊ, 2 syllables'."""
  n = num_syllables(index)
  return (f"{'-'.join(CLASS_PHONES[index])}, {n} "
          f"syllable{'s' if n > 1 else ''}")


def _class_tables() -> dict:
  """Per-class segment arrays, padded to SEG_MAX segments and silence-framed.

  Index 0 and every index past the word's last segment are silence (no
  voicing, no noise, the formants of the nearest segment); a word's segments
  are 1 .. n.
  """
  c, s = MAX_CLASSES, SEG_MAX
  t = {"n": np.zeros(c, np.int64), "dur": np.zeros((c, s)),
       "voice": np.zeros((c, s + 2)), "logf": np.zeros((c, s + 2, 3)),
       "bw": np.ones((c, s + 2, 3)), "noise_db": np.full((c, s + 2), -np.inf),
       "noise_lo": np.full((c, s + 2), 1000.0),
       "noise_hi": np.full((c, s + 2), 2000.0),
       # Crossfade half-width cap of boundary j (before segment j + 1).
       "cap": np.full((c, s + 1), 0.03),
       "burst_seg": np.zeros((c, BURSTS_MAX), np.int64),
       "burst_hz": np.full((c, BURSTS_MAX), 1000.0),
       "burst_level": np.zeros((c, BURSTS_MAX))}
  for k, phones in enumerate(CLASS_PHONES):
    segs, bursts = _segments(phones)
    n = len(segs)
    t["n"][k] = n
    for j, seg in enumerate(segs):
      t["dur"][k, j] = seg.dur
      t["voice"][k, j + 1] = seg.voice
      t["logf"][k, j + 1] = np.log(seg.formants)
      t["bw"][k, j + 1] = seg.bandwidth
      if seg.noise is not None:
        t["noise_lo"][k, j + 1], t["noise_hi"][k, j + 1] = seg.noise[:2]
        t["noise_db"][k, j + 1] = seg.noise[2]
      if seg.glide:
        t["cap"][k, j + 1] = 0.12
    t["cap"][k, 0] = t["cap"][k, n] = 0.02    # voicing onset and offset
    t["logf"][k, 0] = t["logf"][k, 1]
    t["logf"][k, n + 1:] = t["logf"][k, n]
    for j, (seg_index, hz, level) in enumerate(bursts):
      t["burst_seg"][k, j] = seg_index
      t["burst_hz"][k, j] = hz
      t["burst_level"][k, j] = level
  return t


TABLES = _class_tables()
