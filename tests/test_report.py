"""The listening report: WAV encoding, HTML escaping and a real browser load."""

from __future__ import annotations

import io
import os
import re
import wave

import numpy as np
import pytest

from audiogan_jax import viz
from audiogan_jax.eval import report

import browser_check

SR = 16000
EVIL = "<script>alert(1)</script>"


def _sound(freq: float, seconds: float = 0.25, caption: str = "",
           shape: tuple[int, int] = (64, 32), seed: int = 0) -> report.Sound:
  """A sine tone with a little noise and a random 'spectrogram'."""
  rng = np.random.default_rng(seed)
  t = np.arange(int(seconds * SR)) / SR
  w = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
  return report.Sound(w.astype(np.float32),
                      rng.uniform(-1, 1, shape).astype(np.float32), caption)


def _data() -> report.ReportData:
  """2 classes x 2 sounds, one real row, one table, one figure."""
  legend_png = viz.png_bytes(np.full((40, 60, 3), 200, np.uint8))
  return report.ReportData(
      title="Report <b>&</b>",
      subtitle="gaae · step 120 · workdir runs/demo",
      sample_rate=SR,
      classes=[("dog", [_sound(440, seed=1), _sound(550, seed=2)]),
               (EVIL, [_sound(660, seed=3), _sound(770, 0.5, "x<y", seed=4)])],
      real=[("real", [_sound(300, seed=5, shape=(32, 16, 1))])],
      tables=[report.Table(
          "IS / FID", ["model", "IS", "FID", "n"],
          [["ours", 5.12345, 23.456, 100], ["real", 7.0, None, 200],
           ["published <ref>", 4.2, 0.00123456, None]],
          note="higher IS is better", highlight_rows=[0])],
      figures=[report.Figure(
          "t-SNE", legend_png, "features of C",
          legend=[("dog", (255, 0, 0)), ("cat <&>", (0, 0, 255))],
          sounds=[_sound(200, seed=6), _sound(250, seed=7)])],
      config_json='{"name": "</pre><script>alert(2)</script>"}',
      facts=[("step", "120"), ("command", "python -m x --flag=<a>")])


def _num_sounds(data: report.ReportData) -> tuple[int, int]:
  """(number of sounds, number of images) the page should show."""
  sounds = sum(len(s) for _, s in data.classes) + sum(
      len(s) for _, s in data.real) + sum(len(f.sounds) for f in data.figures)
  return sounds, sounds + len(data.figures)


def test_wav_bytes_round_trip():
  rng = np.random.default_rng(0)
  x = np.clip(rng.standard_normal(1234).astype(np.float32) * 0.6, -1.2, 1.2)
  x[:3] = [1.5, -1.5, 0.0]
  with wave.open(io.BytesIO(report.wav_bytes(x, 22050)), "rb") as w:
    assert w.getframerate() == 22050
    assert w.getsampwidth() == 2
    assert w.getnchannels() == 1
    assert w.getnframes() == x.size
    y = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32767.0
  np.testing.assert_allclose(y, np.clip(x, -1, 1), atol=1.0 / 32767)
  assert y[0] == 1.0 and y[1] == -1.0


def test_png_bytes_matches_write_png(tmp_path):
  rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), np.uint8)
  path = tmp_path / "sub" / "x.png"
  viz.write_png(str(path), rgb)
  png = viz.png_bytes(rgb)
  assert path.read_bytes() == png
  assert png.startswith(b"\x89PNG") and png[16:24] == b"\0\0\0\7\0\0\0\5"


def test_render_escapes_and_is_self_contained():
  data = _data()
  page = report.render(data)
  assert page.startswith("<!DOCTYPE html>")
  assert '<html lang="en">' in page and '<meta charset="utf-8">' in page
  assert "<title>Report &lt;b&gt;&amp;&lt;/b&gt;</title>" in page
  assert '<link rel="icon" href="data:,">' in page
  # Nothing from the data comes through unescaped.
  assert "<script" not in page and "alert(1)" in page
  assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
  assert "&lt;/pre&gt;&lt;script&gt;alert(2)" in page
  assert "published &lt;ref&gt;" in page and "cat &lt;&amp;&gt;" in page
  assert "x&lt;y" in page and "--flag=&lt;a&gt;" in page
  # No external reference of any kind.
  assert "http://" not in page and "https://" not in page
  assert "url(" not in page and "@import" not in page
  srcs = re.findall(r'\ssrc="([^"]*)"', page)
  hrefs = re.findall(r'\shref="([^"]*)"', page)
  assert srcs and all(s.startswith("data:") for s in srcs + hrefs)
  n_sounds, n_images = _num_sounds(data)
  assert page.count("<audio") == n_sounds == 7
  assert page.count("<img") == n_images == 8
  assert page.count('src="data:audio/wav;base64,') == n_sounds
  assert page.count('src="data:image/png;base64,') == n_images
  assert all(re.search(r'width="\d+" height="\d+" alt="[^"]+"', tag)
             for tag in re.findall(r"<img[^>]*>", page))
  assert page.count('preload="metadata"') == n_sounds
  assert page.count('class="highlight"') == 1
  assert "<details>" in page and 'style="background:#ff0000"' in page


def test_table_cells():
  fmt = report._format_cell  # pylint: disable=protected-access
  assert fmt(None) == "\u2013" and fmt(float("nan")) == "\u2013"
  assert fmt(12) == "12" and fmt(np.int64(3)) == "3"
  assert fmt(5.12345) == "5.123" and fmt(23.456) == "23.46"
  assert fmt(123.456) == "123.5" and fmt(0.5) == "0.5000"
  assert fmt(0.00123456) == "0.001235" and fmt(np.float32(2.0)) == "2.000"
  assert fmt(0.0) == "0" and fmt(1.5e-7) == "1.500e-07"
  assert fmt("a") == "a"


def test_write_report_atomic(tmp_path):
  data = report.ReportData("t", classes=[("samples", [_sound(440)])])
  path = str(tmp_path / "new" / "report.html")
  assert report.write_report(path, data) == path
  with open(path, encoding="utf-8") as f:
    assert f.read() == report.render(data)
  assert os.listdir(tmp_path / "new") == ["report.html"]


def test_report_loads_in_chromium(tmp_path):
  data = _data()
  path = report.write_report(str(tmp_path / "report.html"), data)
  result = browser_check.check_page(path)
  assert result["errors"] == [], result["errors"]
  assert result["console"] == [] and result["console_lines"] == [], (
      result["console_lines"])
  assert not result["timed_out"]
  sounds = [s for _, row in [*data.classes, *data.real] for s in row]
  expected_images = [s.image.shape[:2] for s in sounds]
  expected_images += [(40, 60)] + [s.image.shape[:2] for s in
                                   data.figures[0].sounds]
  sounds += list(data.figures[0].sounds)
  images = result["images"]
  assert len(images) == len(expected_images)
  for img, (h, w) in zip(images, expected_images):
    assert img["complete"] and (img["naturalWidth"], img["naturalHeight"]) == (
        w, h), img
  audios = result["audios"]
  assert len(audios) == len(sounds)
  for audio, sound in zip(audios, sounds):
    assert audio["error"] is None and audio["readyState"] >= 1, audio
    assert abs(audio["duration"] - sound.wave.size / SR) < 0.01, audio


def test_browser_check_catches_failures(tmp_path):
  """The browser check is not vacuous: it sees what is broken."""
  good = report.render(report.ReportData(
      "t", classes=[("samples", [_sound(440)])]))
  bad_png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"
  bad_wav = "data:audio/wav;base64,UklGRgAAAABXQVZF"
  page = re.sub(r'<img src="[^"]*"', f'<img src="{bad_png}"', good)
  page = re.sub(r'<audio([^>]*) src="[^"]*"', rf'<audio\1 src="{bad_wav}"',
                page)
  page = page.replace(
      "</body>", '<img src="missing.png" alt="relative">'
      '<script>console.error("deliberate failure");</script></body>')
  path = tmp_path / "broken.html"
  path.write_text(page, encoding="utf-8")
  result = browser_check.check_page(str(path))
  kinds = [(e["kind"], e.get("tag")) for e in result["errors"]]
  assert ("resource", "img") in kinds and ("resource", "audio") in kinds
  assert kinds.count(("resource", "img")) == 2  # Corrupt and relative.
  assert ("console.error", None) in kinds
  assert all(i["naturalWidth"] == 0 for i in result["images"])
  assert result["audios"][0]["error"] == 4 and (
      result["audios"][0]["readyState"] == 0)
  assert any("deliberate failure" in line for line in result["console_lines"])


def test_missing_chromium_skips_or_fails_under_ci(monkeypatch, tmp_path):
  monkeypatch.setattr(browser_check, "CHROMIUM", str(tmp_path / "none"))
  monkeypatch.delenv("CI", raising=False)
  with pytest.raises(pytest.skip.Exception):
    browser_check.require_chromium()
  monkeypatch.setenv("CI", "true")
  with pytest.raises(pytest.fail.Exception, match=r"\.ci/run should have"):
    browser_check.require_chromium()
