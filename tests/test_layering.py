"""The package's layers (docs/TRAINING.md, "Code layout"), read from the
source: every import, at module top or inside a function."""

import ast
import os

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "audiogan_jax")

# Unit (a subpackage or a top-level module) -> layer; a unit may import its
# own layer and the ones below.
LAYERS = {
    "cli": 6, "config": 5,
    "train": 5, "experiments": 5,
    "eval": 4,
    "workdir": 3, "generation": 3, "encoding": 3, "export": 3,
    "checkpoint": 3, "media": 3, "viz": 3,
    "gans": 2, "models": 2,
    "data": 1, "audio": 1,
    "errors": 0, "audiogan_jax": 0,
}


def _unit(module: str) -> str:
  parts = module.split(".")
  return parts[1] if len(parts) > 1 else parts[0]


def _imports():
  """(importing module, imported module) for every internal import."""
  out = []
  for root, _, files in os.walk(PKG):
    for name in files:
      if not name.endswith(".py"):
        continue
      path = os.path.join(root, name)
      rel = os.path.relpath(path, os.path.dirname(PKG))[:-3]
      module = rel.replace(os.sep, ".").removesuffix(".__init__")
      with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
      for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
            node.module.startswith("audiogan_jax")):
          for alias in node.names:
            target = f"{node.module}.{alias.name}"
            if node.module == "audiogan_jax":
              out.append((module, target))
            else:
              out.append((module, node.module))
        elif isinstance(node, ast.Import):
          out.extend((module, a.name) for a in node.names
                     if a.name.startswith("audiogan_jax"))
  return out


def test_every_unit_has_a_layer():
  units = {_unit(m) for pair in _imports() for m in pair}
  assert units <= set(LAYERS), sorted(units - set(LAYERS))


def test_nothing_outside_the_commands_imports_them():
  bad = [(a, b) for a, b in _imports()
         if _unit(b) == "cli" and _unit(a) != "cli"]
  assert not bad, bad


def test_imports_go_down_the_layers():
  bad = [(a, b) for a, b in _imports()
         if LAYERS[_unit(b)] > LAYERS[_unit(a)]]
  assert not bad, bad


def test_no_import_circle_between_units():
  graph: dict[str, set[str]] = {}
  for a, b in _imports():
    if _unit(a) != _unit(b):
      graph.setdefault(_unit(a), set()).add(_unit(b))

  def reaches(start, goal):
    seen, todo = set(), [start]
    while todo:
      for nxt in graph.get(todo.pop(), ()):
        if nxt == goal:
          return True
        if nxt not in seen:
          seen.add(nxt)
          todo.append(nxt)
    return False

  circles = sorted((a, b) for a in graph for b in graph[a]
                   if reaches(b, a))
  assert not circles, circles
