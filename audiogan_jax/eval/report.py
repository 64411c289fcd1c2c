"""The listening report: one self-contained HTML page to look at and listen to.

A run's report shows, on a single page that opens offline in any browser:

* the title, a subtitle and a list of facts (checkpoint step, family, date,
  the commands that made it);
* metric tables (the model's row next to real-data rows and published
  numbers);
* per-class rows of generated samples, each a small card with the spectrogram
  image and an audio player, then the same for real clips if given;
* figures (t-SNE plots with their colour legend, interpolation sheets with a
  row of players under the image);
* the configuration, folded in a ``<details>`` block.

Everything the page shows is inside the file: images are
``data:image/png;base64`` URIs, sounds ``data:audio/wav;base64`` URIs (16-bit
PCM mono), the style sheet is inline, and the page needs no script. Every text
taken from the data is HTML-escaped.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import numbers
import os
import struct
from typing import Any, Optional, Sequence
import wave as wave_lib

import numpy as np

from audiogan_jax import viz

MISSING = "\u2013"  # The en dash shown for a missing table cell.


@dataclasses.dataclass
class Sound:
  """One clip: its waveform, its spectrogram image and a caption.

  Attributes:
    wave: [T] float32 waveform in [-1, 1].
    image: [H, W] (or [H, W, 1]) spectrogram in [-1, 1], drawn with
      ``viz.colorize`` (low frequencies at the bottom).
    caption: a short line under the player.
  """
  wave: np.ndarray
  image: np.ndarray
  caption: str = ""


@dataclasses.dataclass
class Figure:
  """An image with a title, a caption, an optional legend and sounds.

  Attributes:
    title: the heading above the image.
    png: the contents of a PNG file.
    caption: a line under the image.
    legend: (label, (r, g, b)) swatches shown under the image.
    sounds: clips shown as a row of players under the image, e.g. the steps
      of an interpolation sheet.
  """
  title: str
  png: bytes
  caption: str = ""
  legend: Sequence[tuple[str, tuple[int, int, int]]] = ()
  sounds: Sequence[Sound] = ()


@dataclasses.dataclass
class Table:
  """A table of metrics.

  Attributes:
    title: the table's caption.
    columns: the column headers.
    rows: the cells, row by row: strings, integers, floats (shown with four
      significant digits) or None (shown as an en dash).
    note: a line under the table.
    highlight_rows: indices of rows to emphasise, e.g. the model's own row.
  """
  title: str
  columns: Sequence[str]
  rows: Sequence[Sequence[Any]]
  note: str = ""
  highlight_rows: Sequence[int] = ()


@dataclasses.dataclass
class ReportData:
  """Everything a listening report shows.

  Attributes:
    title: the page title.
    subtitle: a line under the title, e.g. "gaae · step 120 · workdir runs/x".
    sample_rate: the sample rate of every sound's waveform, in Hz.
    classes: per-class rows of generated samples, (class name, sounds); an
      unconditional model passes one row, e.g. named "samples".
    real: rows of real clips for comparison, in the same layout.
    tables: metric tables.
    figures: t-SNE plots, interpolation sheets.
    config_json: the run's configuration, shown folded.
    facts: (key, value) lines: checkpoint step, family, date, commands.
  """
  title: str
  subtitle: str = ""
  sample_rate: int = 16000
  classes: Sequence[tuple[str, Sequence[Sound]]] = ()
  real: Sequence[tuple[str, Sequence[Sound]]] = ()
  tables: Sequence[Table] = ()
  figures: Sequence[Figure] = ()
  config_json: str = ""
  facts: Sequence[tuple[str, str]] = ()


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
  """Encodes a waveform as a 16-bit PCM mono WAV file.

  Args:
    wave: [T] (or [T, 1]) samples in [-1, 1]; values outside are clipped and
      non-finite values become 0.
    sample_rate: the sample rate in Hz.

  Returns:
    The bytes of the WAV file.
  """
  x = np.nan_to_num(np.asarray(wave, np.float32).reshape(-1), nan=0.0,
                    posinf=1.0, neginf=-1.0)
  pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
  buf = io.BytesIO()
  with wave_lib.open(buf, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(int(sample_rate))
    w.writeframes(pcm.tobytes())
  return buf.getvalue()


def _data_uri(mime: str, payload: bytes) -> str:
  """A ``data:`` URI holding ``payload`` in base64."""
  return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def _png_size(png: bytes) -> Optional[tuple[int, int]]:
  """(width, height) from a PNG's IHDR chunk, or None if it is no PNG."""
  if (len(png) >= 24 and png[:8] == b"\x89PNG\r\n\x1a\n"
      and png[12:16] == b"IHDR"):
    return struct.unpack(">II", png[16:24])
  return None


def _format_cell(value: Any) -> str:
  """The text of a table cell; floats keep four significant digits."""
  if value is None:
    return MISSING
  if isinstance(value, np.ndarray) and value.ndim == 0:
    value = value.item()
  if isinstance(value, (bool, np.bool_)):
    return "yes" if value else "no"
  if isinstance(value, numbers.Integral):
    return str(int(value))
  if isinstance(value, numbers.Real):
    v = float(value)
    if math.isnan(v):
      return MISSING
    if math.isinf(v):
      return "\u221e" if v > 0 else "\u2212\u221e"
    if v == 0.0:
      return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if -3 <= magnitude < 6:
      return f"{v:.{max(0, 3 - magnitude)}f}"
    return f"{v:.3e}"
  return str(value)


def _is_number(value: Any) -> bool:
  """Whether a cell holds a number (right-aligned)."""
  return (isinstance(value, (numbers.Real, np.ndarray))
          and not isinstance(value, (bool, np.bool_)))


_CSS = """
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475;
  --line: #d5d9e0; --bg: #f6f7f9; --card: #ffffff; --accent: #3554a5;
  --hl: #fff4cc; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px clamp(12px, 4vw, 48px) 48px;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header h1 { margin: 0 0 4px; font-size: 1.7em; }
header .subtitle { margin: 0; color: var(--muted); }
h2 { margin: 36px 0 12px; padding-bottom: 4px; font-size: 1.3em;
  border-bottom: 2px solid var(--line); }
h3 { margin: 20px 0 8px; font-size: 1.05em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr;
  gap: 2px 16px; margin: 16px 0 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere;
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.9em; }
.table-wrap { overflow-x: auto; margin: 12px 0 20px; }
table { border-collapse: collapse; background: var(--card);
  font-variant-numeric: tabular-nums; }
.table-title { font-weight: 600; margin: 0 0 6px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; }
th { background: #eceef2; }
td.num { text-align: right; }
tr.highlight td { background: var(--hl); font-weight: 600; }
p.note { margin: 4px 0 0; color: var(--muted); font-size: 0.9em; }
.cards { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); }
.card { margin: 0; padding: 8px; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; }
.card img { display: block; width: 100%; height: 150px; object-fit: fill;
  border-radius: 4px; background: #000; }
.card audio { display: block; width: 100%; height: 36px; margin-top: 6px; }
.card figcaption { margin-top: 4px; font-size: 0.85em; color: var(--muted);
  overflow-wrap: anywhere; }
figure.figure { margin: 16px 0 28px; padding: 12px; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; }
figure.figure > h3 { margin-top: 0; }
figure.figure > img { display: block; max-width: 100%; height: auto; }
figure.figure > figcaption { margin: 8px 0; color: var(--muted); }
ul.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none;
  margin: 8px 0; padding: 0; font-size: 0.9em; }
.swatch { display: inline-block; width: 12px; height: 12px;
  margin-right: 6px; vertical-align: -1px; border-radius: 2px;
  border: 1px solid rgba(0, 0, 0, 0.25); }
details { margin-top: 12px; }
summary { cursor: pointer; font-weight: 600; }
pre { background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: 12px; overflow-x: auto; font-size: 0.85em; }
"""


def _esc(text: Any) -> str:
  """HTML-escapes ``text`` (quotes included)."""
  return html.escape(str(text), quote=True)


def _sound_card(sound: Sound, sample_rate: int, alt: str) -> str:
  """One card: the spectrogram image, a player and the caption."""
  image = np.asarray(sound.image)
  if image.ndim == 3:
    image = image[..., 0]
  h, w = image.shape
  img_uri = _data_uri("image/png", viz.png_bytes(viz.colorize(image)))
  wav_uri = _data_uri("audio/wav", wav_bytes(sound.wave, sample_rate))
  seconds = np.asarray(sound.wave).size / float(sample_rate)
  caption = sound.caption or f"{seconds:.2f} s"
  return (
      '<figure class="card">'
      f'<img src="{img_uri}" width="{w}" height="{h}" alt="{_esc(alt)}">'
      f'<audio controls preload="metadata" src="{wav_uri}">'
      "Your browser cannot play WAV audio.</audio>"
      f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _sound_rows(rows: Sequence[tuple[str, Sequence[Sound]]], sample_rate: int,
                kind: str) -> list[str]:
  """Per-class rows of sound cards under ``<h3>`` headings."""
  out = []
  for name, sounds in rows:
    cards = [
        _sound_card(s, sample_rate, f"Spectrogram of {kind} {name} #{i + 1}")
        for i, s in enumerate(sounds)]
    out.append(f'<section class="class-row"><h3>{_esc(name)}</h3>'
               f'<div class="cards">{"".join(cards)}</div></section>')
  return out


def _table(table: Table) -> str:
  """One metric table with its caption and note."""
  highlight = set(int(i) for i in table.highlight_rows)
  head = "".join(f'<th scope="col">{_esc(c)}</th>' for c in table.columns)
  body = []
  for r, row in enumerate(table.rows):
    cells = "".join(
        f'<td class="num">{_esc(_format_cell(v))}</td>' if _is_number(v)
        else f"<td>{_esc(_format_cell(v))}</td>" for v in row)
    cls = ' class="highlight"' if r in highlight else ""
    body.append(f"<tr{cls}>{cells}</tr>")
  note = f'<p class="note">{_esc(table.note)}</p>' if table.note else ""
  return (f'<div class="table-wrap"><p class="table-title">'
          f"{_esc(table.title)}</p><table><thead><tr>{head}</tr></thead>"
          f'<tbody>{"".join(body)}</tbody></table>{note}</div>')


def _figure(figure: Figure, sample_rate: int) -> str:
  """One figure: title, image, caption, legend and players."""
  size = _png_size(figure.png)
  dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
  img = (f'<img src="{_data_uri("image/png", figure.png)}"{dims} '
         f'alt="{_esc(figure.title)}">')
  caption = (f"<figcaption>{_esc(figure.caption)}</figcaption>"
             if figure.caption else "")
  legend = ""
  if figure.legend:
    items = []
    for label, colour in figure.legend:
      r, g, b = (int(np.clip(c, 0, 255)) for c in colour)
      items.append(f'<li><span class="swatch" style="background:#{r:02x}'
                   f'{g:02x}{b:02x}"></span>{_esc(label)}</li>')
    legend = f'<ul class="legend">{"".join(items)}</ul>'
  sounds = ""
  if figure.sounds:
    cards = [_sound_card(s, sample_rate, f"{figure.title} #{i + 1}")
             for i, s in enumerate(figure.sounds)]
    sounds = f'<div class="cards">{"".join(cards)}</div>'
  return (f'<figure class="figure"><h3>{_esc(figure.title)}</h3>{img}'
          f"{caption}{legend}{sounds}</figure>")


def render(data: ReportData) -> str:
  """The report's HTML text, with every image and sound embedded.

  Args:
    data: what the page shows.

  Returns:
    A complete, self-contained HTML document.
  """
  parts = [
      "<!DOCTYPE html>",
      '<html lang="en">',
      "<head>",
      '<meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      '<link rel="icon" href="data:,">',
      f"<title>{_esc(data.title)}</title>",
      f"<style>{_CSS}</style>",
      "</head>",
      "<body>",
      f"<header><h1>{_esc(data.title)}</h1>",
  ]
  if data.subtitle:
    parts.append(f'<p class="subtitle">{_esc(data.subtitle)}</p>')
  if data.facts:
    facts = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>"
                    for k, v in data.facts)
    parts.append(f'<dl class="facts">{facts}</dl>')
  parts.append("</header>")
  if data.tables:
    parts.append('<section id="metrics"><h2>Metrics</h2>')
    parts.extend(_table(t) for t in data.tables)
    parts.append("</section>")
  if data.classes:
    parts.append('<section id="generated"><h2>Generated samples</h2>')
    parts.extend(_sound_rows(data.classes, data.sample_rate, "generated"))
    parts.append("</section>")
  if data.real:
    parts.append('<section id="real"><h2>Real clips</h2>')
    parts.extend(_sound_rows(data.real, data.sample_rate, "real"))
    parts.append("</section>")
  if data.figures:
    parts.append('<section id="figures"><h2>Figures</h2>')
    parts.extend(_figure(f, data.sample_rate) for f in data.figures)
    parts.append("</section>")
  if data.config_json:
    parts.append('<section id="config"><h2>Configuration</h2><details>'
                 "<summary>Show the configuration</summary>"
                 f"<pre>{_esc(data.config_json)}</pre></details></section>")
  parts.extend(["</body>", "</html>", ""])
  return "\n".join(parts)


def write_report(path: str, data: ReportData) -> str:
  """Renders ``data`` and writes the page atomically.

  Args:
    path: the HTML file to write; its folder is created if missing.
    data: what the page shows.

  Returns:
    ``path``.
  """
  text = render(data)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path
