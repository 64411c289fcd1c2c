"""Opens a page in headless Chromium and reports what did not load.

``check_page(path)`` copies the page into a fresh temporary folder with a
checker script injected as the first element of ``<head>``, runs headless
Chromium on the copy and returns the checker's JSON summary together with the
console messages Chromium logged. The copy lies alone in its folder, so a
relative reference to a file next to the page fails to load there: a page
that passes is self-contained.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"

# The network is closed and the profile is a fresh temporary folder.
# ``--dump-dom`` prints the DOM once the page is done: with
# ``--virtual-time-budget`` Chromium runs the page on a virtual clock until it
# is idle or the budget is spent, so the checker's wait timer costs no real
# time. Media loading does not race the clock: an <audio> element with
# preload="metadata" delays the ``load`` event until it has data or has
# failed, so its state is final when the checker runs (a 21 MB page with 80
# four-second clips takes about 5 s); the timer only ends the wait for
# elements that never load (no source, preload="none").
# ``--enable-logging=stderr --v=0`` prints every console message, whatever its
# level, as an INFO ``:CONSOLE`` line on stderr, browser messages included.
# ``--disable-dev-shm-usage`` avoids renderer crashes in containers with a
# small /dev/shm.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--dump-dom", "--enable-logging=stderr", "--v=0")

# The checker. It wraps the console methods and listens for ``error`` events
# in the capture phase, which also sees the load errors of <img>, <audio> and
# <source> elements (they do not bubble). After ``load`` it checks every image
# and waits for every <audio> element to reach HAVE_METADATA or fail, then
# writes a JSON summary into <pre id="__check">.
_CHECKER = r"""<script>
(function () {
  var errors = [], consoleMessages = [];
  ['error', 'warn', 'log', 'info', 'debug'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      var text = Array.prototype.map.call(arguments, String).join(' ');
      consoleMessages.push({level: level, text: text});
      if (level === 'error' || level === 'warn') {
        errors.push({kind: 'console.' + level, text: text});
      }
      return original.apply(console, arguments);
    };
  });
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      var src = t.currentSrc || t.src || '';
      errors.push({kind: 'resource', tag: t.tagName.toLowerCase(),
                   src: src.slice(0, 60)});
    } else {
      errors.push({kind: 'script', text: String(e.message)});
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    errors.push({kind: 'rejection', text: String(e.reason)});
  });
  function waitAudio(a) {
    return new Promise(function (resolve) {
      function done() { resolve(); }
      if (a.readyState >= 1 || a.error) { done(); return; }
      a.addEventListener('loadedmetadata', done);
      a.addEventListener('error', done);
      var sources = a.querySelectorAll('source');
      for (var i = 0; i < sources.length; i++) {
        sources[i].addEventListener('error', done);
      }
      if (a.networkState === HTMLMediaElement.NETWORK_EMPTY) { a.load(); }
    });
  }
  window.addEventListener('load', function () {
    var images = Array.prototype.map.call(
        document.images, function (img) {
          return {complete: img.complete, naturalWidth: img.naturalWidth,
                  naturalHeight: img.naturalHeight,
                  width: img.getAttribute('width'),
                  height: img.getAttribute('height'),
                  alt: img.getAttribute('alt')};
        });
    var audios = Array.prototype.slice.call(document.querySelectorAll('audio'));
    var written = false;
    function write(timedOut) {
      if (written) { return; }
      written = true;
      var pre = document.createElement('pre');
      pre.id = '__check';
      pre.textContent = JSON.stringify({
        errors: errors,
        console: consoleMessages,
        images: images,
        audios: audios.map(function (a) {
          return {readyState: a.readyState, duration: a.duration,
                  networkState: a.networkState,
                  error: a.error ? a.error.code : null};
        }),
        timedOut: timedOut
      });
      document.body.appendChild(pre);
    }
    Promise.all(audios.map(waitAudio)).then(function () { write(false); });
    setTimeout(function () { write(true); }, AUDIO_WAIT_MS);
  });
})();
</script>"""

_SUMMARY = re.compile(r'<pre id="__check">(.*?)</pre>', re.S)
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.I)
# Chromium logs "[pid:tid:time:INFO:CONSOLE:12] "text", source: url (12)" (or
# "CONSOLE(12)" in older versions), with INFO whatever the console level.
_CONSOLE = re.compile(r":CONSOLE[:(][^\]]*\]\s?(.*)$")


def ci() -> bool:
  """Whether the tests run under continuous integration (``CI`` is set)."""
  return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def require_chromium() -> str:
  """The Chromium binary; skips the test without it (fails it under CI)."""
  if os.access(CHROMIUM, os.X_OK):
    return CHROMIUM
  if ci():
    pytest.fail(f"{CHROMIUM} is missing: .ci/run should have installed "
                "Debian's chromium (apt-get install chromium)")
  pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
  return ""  # Unreachable.


def inject_checker(page: str, audio_wait_ms: int = 8000) -> str:
  """``page`` with the checker script as the first element of ``<head>``."""
  script = _CHECKER.replace("AUDIO_WAIT_MS", str(int(audio_wait_ms)))
  m = _HEAD.search(page)
  if m is None:
    raise ValueError("the page has no <head> element")
  return page[:m.end()] + script + page[m.end():]


def check_page(path: str, timeout: float = 60.0, audio_wait_ms: int = 8000,
               budget_ms: int = 10000) -> dict[str, Any]:
  """Loads the page at ``path`` in headless Chromium and checks it.

  Args:
    path: an HTML file.
    timeout: seconds before Chromium is killed.
    audio_wait_ms: how long (page time) the checker waits for every <audio>
      element to load its metadata or fail.
    budget_ms: Chromium's ``--virtual-time-budget``.

  Returns:
    The checker's summary: ``errors`` (console.error/warn calls, script
    errors, rejected promises, resource load errors of img/audio/source
    elements), ``console`` (every console call of the page), ``images``
    (complete, naturalWidth, naturalHeight, the width/height attributes and
    alt of each <img>), ``audios`` (readyState, duration, networkState and
    error code of each <audio>), ``timed_out`` (the checker stopped waiting
    for audio); plus ``console_lines``, the console messages Chromium logged
    on stderr (the page's and the browser's own, e.g. failed loads), and
    ``stderr``.

  Raises:
    RuntimeError: Chromium did not print the checker's summary.
  """
  binary = require_chromium()
  with open(path, encoding="utf-8") as f:
    page = f.read()
  work = tempfile.mkdtemp(prefix="browser-check-")
  try:
    copy = os.path.join(work, "page.html")
    with open(copy, "w", encoding="utf-8") as f:
      f.write(inject_checker(page, audio_wait_ms))
    profile = os.path.join(work, "profile")
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}",
           f"--virtual-time-budget={int(budget_ms)}", "file://" + copy]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, check=False)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  m = _SUMMARY.search(proc.stdout)
  if m is None:
    raise RuntimeError(
        f"no checker summary from Chromium (exit {proc.returncode}); "
        f"stderr tail:\n{proc.stderr[-3000:]}")
  summary = json.loads(html.unescape(m.group(1)))
  summary["timed_out"] = summary.pop("timedOut")
  summary["console_lines"] = [
      c.group(1) for c in map(_CONSOLE.search, proc.stderr.splitlines()) if c]
  summary["stderr"] = proc.stderr
  return summary
