"""The package's import graph keeps the layers of DESIGN.md (an AST scan, imports inside
functions included).

Layers, lowest first (a layer imports only the layers before it, as listed in ``ALLOWED``)::

    photonics < quantum < latents < data < models < metrics < train < experiments < interop
              < demo < cli

DESIGN.md lists ``metrics`` after ``train``, but it also puts the kernels and the MMD in
``metrics`` and gives ``train`` MMD-fitting loss objects: ``train`` uses ``metrics``, so
``metrics`` sits under ``train`` and never imports it. The rules of DESIGN.md on top of the
order: ``photonics`` never imports torch; ``models`` never imports ``latents`` (z arrives as a
tensor).

Shared infrastructure: the top-level private modules (``qlatent._validation``, ``_io``,
``_random``, ``_progress``, ``_chem``) and ``qlatent`` itself sit under every layer. Any module
may import them (their module name is private, the names they export are public); they import
only each other, never torch at module level (``photonics`` imports them), and no one imports a
private *name* (``_x``) out of them. A private module inside a package (``_sampler_kernels``)
is imported only from that package.

Four checks, each with its list of known violations (``KNOWN_VIOLATIONS``):

1. ``layer``: every import goes down the layers (``ALLOWED``), and ``photonics`` never imports
   torch;
2. ``cycle``: no import cycle between modules (a package's ``__init__`` counts as a module);
3. ``private``: no private name (``_x``, not ``__x__``) imported from, or read as an attribute
   of, another module of ours, and no private module imported from outside its package;
4. ``local``: an import inside a function says why on its line or the line above: one of
   ``LOCAL_IMPORT_REASONS`` (e.g. ``# optional extra: rdkit``, ``# CLI start-up``).

Known violations are owned by work in progress (issue 20); each entry names its item. The test
fails on a violation that is not listed AND on a listed one that no longer occurs, so the list
only shrinks: delete an entry when its fix lands.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "qlatent"

#: The layers, lowest first.
LAYERS = ("photonics", "quantum", "latents", "data", "models", "metrics", "train", "experiments",
          "interop", "demo", "cli")

#: Which layers each layer may import (besides itself and the infrastructure): the order of
#: ``LAYERS``, less what DESIGN.md forbids (``models`` never imports ``latents``).
ALLOWED: dict[str, frozenset[str]] = {
    "photonics": frozenset(),
    "quantum": frozenset({"photonics"}),
    "latents": frozenset({"photonics", "quantum"}),
    "data": frozenset({"photonics", "quantum", "latents"}),
    "models": frozenset({"photonics", "quantum", "data"}),
    "metrics": frozenset({"photonics", "quantum", "latents", "data", "models"}),
    "train": frozenset({"photonics", "quantum", "latents", "data", "models", "metrics"}),
    "experiments": frozenset(LAYERS[:LAYERS.index("experiments")]),
    "interop": frozenset(LAYERS[:LAYERS.index("interop")]),
    "demo": frozenset(LAYERS[:LAYERS.index("demo")]),
    "cli": frozenset(LAYERS[:LAYERS.index("cli")]),
}

#: Third-party packages a layer never imports, not even inside a function.
FORBIDDEN_PACKAGES: dict[str, frozenset[str]] = {"photonics": frozenset({"torch"})}

#: The reasons an import may sit inside a function (one of them in a comment on its line or the
#: line above). "optional extra": a package of an extra (rdkit, scikit-learn, tensorboard, ray)
#: imported where it is used, so the core never needs it; "CLI start-up": the CLI imports the
#: library inside its commands, so `--help`, `--version` and usage errors print without torch;
#: "torch-free": the shared infrastructure under photonics imports torch only when a torch
#: function is called.
LOCAL_IMPORT_REASONS = ("optional extra", "CLI start-up", "torch-free")

#: Violations of today's code that other work of issue 20 removes, by check: fnmatch patterns
#: of the violation texts, each with the issue item and the helper that fixes it. Delete an
#: entry when its fix lands (the test fails on an entry that matches nothing).
KNOWN_VIOLATIONS: dict[str, dict[str, str]] = {
    "layer": {
    },
    "cycle": {
    },
    "private": {
    },
    "local": {
    },
}


@dataclass(frozen=True)
class Import:
    """One imported module (or a name of it) as the AST shows it."""

    importer: str  # the importing module, e.g. "qlatent.train.pack"
    target: str  # the imported module of ours, or the top-level name of a third-party one
    names: tuple[str, ...]  # the names taken from ``target`` (``from target import names``)
    line: int
    local: bool  # inside a function
    type_only: bool  # under ``if TYPE_CHECKING:``
    reason: str | None  # the LOCAL_IMPORT_REASONS entry its comment gives, if any


def module_names(src: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``src``: dotted name -> file (``__init__`` is the
    package's own name)."""
    modules = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _reason(lines: list[str], node: ast.stmt, import_lines: set[int]) -> str | None:
    """The LOCAL_IMPORT_REASONS entry in a comment on the import's lines or above them, up to
    the first line of other code: one comment explains a block of imports."""
    candidates = lines[node.lineno - 1:node.end_lineno]
    above = node.lineno - 2  # 0-based index of the line above
    while above >= 0:
        text = lines[above].strip()
        if text and not text.startswith("#") and above + 1 not in import_lines:
            break
        candidates.append(lines[above])
        above -= 1
    for text in candidates:
        if "#" in text:
            comment = text.split("#", 1)[1].lower()
            for reason in LOCAL_IMPORT_REASONS:
                if reason.lower() in comment:
                    return reason
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def scan(src: Path, package: str) -> tuple[dict[str, Path], list[Import], list[tuple]]:
    """The modules, their imports and the private attributes they read of modules of ours.

    Returns:
        (modules, imports, private_reads), ``private_reads`` as (importer, module, name, line):
        ``module._name`` where ``module`` is a name bound by an import of a module of ours.
    """
    modules = module_names(src, package)
    imports: list[Import] = []
    reads: list[tuple] = []
    for importer, path in modules.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text, filename=str(path))
        is_package = path.name == "__init__.py"
        import_lines = {line for node in ast.walk(tree)
                        if isinstance(node, (ast.Import, ast.ImportFrom))
                        for line in range(node.lineno, node.end_lineno + 1)}
        bound: dict[str, str] = {}  # local name -> module of ours it refers to

        def record(node, local, type_only, _importer=importer, _lines=lines,
                   _is_package=is_package, _bound=bound, _import_lines=import_lines):
            reason = _reason(_lines, node, _import_lines) if local else None
            if isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.name
                    if name == package or name.startswith(package + "."):
                        target = name
                        if alias.asname:
                            _bound[alias.asname] = name
                    else:
                        target = name.split(".")[0]
                    imports.append(Import(_importer, target, (), node.lineno, local, type_only,
                                          reason))
                return
            if node.level:  # relative: resolve against the importer's package
                base = _importer.split(".") if _is_package else _importer.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not (module == package or module.startswith(package + ".")):
                imports.append(Import(_importer, module.split(".")[0], (), node.lineno, local,
                                      type_only, reason))
                return
            plain = []
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in modules:  # ``from package import submodule``
                    imports.append(Import(_importer, sub, (), node.lineno, local, type_only,
                                          reason))
                    _bound[alias.asname or alias.name] = sub
                else:
                    plain.append(alias.name)
            if plain or not node.names:
                imports.append(Import(_importer, module, tuple(plain), node.lineno, local,
                                      type_only, reason))

        def visit(node, local, type_only):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    record(child, local, type_only)
                elif isinstance(child, ast.If) and _is_type_checking(child.test):
                    for stmt in child.body:
                        visit(ast.Module(body=[stmt], type_ignores=[]), local, True)
                    for stmt in child.orelse:
                        visit(ast.Module(body=[stmt], type_ignores=[]), local, type_only)
                else:
                    inner = local or isinstance(
                        child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                    visit(child, inner, type_only)

        visit(tree, False, False)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and _private(node.attr)):
                reads.append((importer, bound[node.value.id], node.attr, node.lineno))
    return modules, imports, reads


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def layer_of(module: str, package: str = PACKAGE) -> str:
    """The layer of a module of ours, or "infrastructure" (``qlatent`` and ``qlatent._x``)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1].startswith("_"):
        return "infrastructure"
    return parts[1]


def _ours(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def violations(src: Path = SRC, package: str = PACKAGE) -> dict[str, list[str]]:
    """Every violation of the four rules, as texts (see the module docstring), by check."""
    modules, imports, reads = scan(src, package)
    found: dict[str, set[str]] = {"layer": set(), "cycle": set(), "private": set(),
                                  "local": set()}
    for imp in imports:
        source = layer_of(imp.importer, package)
        if not _ours(imp.target, package):
            if imp.target in FORBIDDEN_PACKAGES.get(source, ()):
                found["layer"].add(f"{imp.importer} imports {imp.target}")
            elif (source == "infrastructure" and imp.target == "torch" and not imp.local
                  and not imp.type_only):
                found["layer"].add(f"{imp.importer} imports torch at module level")
        else:
            target = layer_of(imp.target, package)
            if target != source and target != "infrastructure" and (
                    source == "infrastructure" or target not in ALLOWED[source]):
                found["layer"].add(f"{imp.importer} ({source}) imports {imp.target} ({target})")
            for name in imp.names:
                if _private(name):
                    found["private"].add(f"{imp.importer} imports {imp.target}.{name}")
            parts = imp.target.split(".")
            for depth in range(2, len(parts)):  # a private module inside a package
                if _private(parts[depth]):
                    owner = ".".join(parts[:depth])
                    if not (imp.importer == owner or imp.importer.startswith(owner + ".")):
                        found["private"].add(f"{imp.importer} imports {imp.target}")
        if imp.local and not imp.type_only and imp.reason is None:
            found["local"].add(f"{imp.importer} imports {imp.target} inside a function "
                               "without a reason")
    for importer, module, name, _ in reads:
        found["private"].add(f"{importer} reads {module}.{name}")
    for component in _cycles(modules, imports, package):
        found["cycle"].add("cycle: " + " <-> ".join(component))
    return {check: sorted(texts) for check, texts in found.items()}


def _cycles(modules: dict[str, Path], imports: list[Import], package: str) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing
    itself) of the import graph (run-time imports; type-only ones excluded), each sorted."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        if _ours(imp.target, package) and not imp.type_only and imp.target in graph:
            graph[imp.importer].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


CHECKS = ("layer", "cycle", "private", "local")


@pytest.fixture(scope="module")
def found() -> dict[str, list[str]]:
    return violations()


@pytest.mark.parametrize("check", CHECKS)
def test_imports_keep_the_layers(found, check):
    """No violation outside KNOWN_VIOLATIONS, and every known one still occurs."""
    known = list(KNOWN_VIOLATIONS[check])
    new = [v for v in found[check] if not any(fnmatch.fnmatchcase(v, p) for p in known)]
    stale = [p for p in known if not any(fnmatch.fnmatchcase(v, p) for v in found[check])]
    assert not new, f"{len(new)} new {check} violation(s):\n" + "\n".join(new)
    assert not stale, ("fixed: delete these entries of KNOWN_VIOLATIONS:\n" + "\n".join(stale))


def test_known_violations_name_their_issue_item():
    assert set(KNOWN_VIOLATIONS) == set(CHECKS)
    for check, known in KNOWN_VIOLATIONS.items():
        for pattern, owner in known.items():
            assert "issue" in owner and "item" in owner, (check, pattern, owner)


def test_allowed_layers_only_point_down():
    assert set(ALLOWED) == set(LAYERS)
    for layer, allowed in ALLOWED.items():
        below = set(LAYERS[:LAYERS.index(layer)])
        assert allowed <= below, (layer, allowed - below)
    assert "latents" not in ALLOWED["models"]  # DESIGN.md: z arrives as a tensor
    assert "train" not in ALLOWED["metrics"]  # the MMD kernels live in metrics


def test_every_subpackage_has_a_layer():
    subpackages = {p.name for p in (SRC / PACKAGE).iterdir()
                   if (p / "__init__.py").is_file()}
    assert subpackages <= set(LAYERS), subpackages - set(LAYERS)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_scan_finds_each_kind_of_violation(tmp_path):
    """The checker itself, on a made-up package with one violation of each kind."""
    pkg = "fakepkg"
    src = _write(tmp_path, {
        f"{pkg}/__init__.py": "",
        f"{pkg}/_validation.py": "import torch\n",
        f"{pkg}/photonics/__init__.py": "",
        f"{pkg}/photonics/core.py": "def f():\n    import torch  # optional extra: no\n",
        f"{pkg}/photonics/_kernels.py": "",
        f"{pkg}/models/__init__.py": "",
        f"{pkg}/models/net.py": ("from fakepkg.latents.base import Latent\n"
                                 "from fakepkg.photonics._kernels import fast\n"
                                 "from fakepkg.models import other\n"
                                 "x = other._hidden\n"),
        f"{pkg}/models/other.py": "from fakepkg.models.net import _helper\n",
        f"{pkg}/latents/__init__.py": "",
        f"{pkg}/latents/base.py": ("from typing import TYPE_CHECKING\n"
                                   "if TYPE_CHECKING:\n    from fakepkg.cli import app\n"
                                   "def g():\n    from fakepkg.photonics import core\n"
                                   "def h():\n    # CLI start-up\n    import json\n\n"
                                   "    import os\n    x = 1\n    import re\n"),
        f"{pkg}/cli/__init__.py": "def main():\n    from fakepkg.models import net\n",
    })
    found = violations(src, pkg)
    assert found["layer"] == [
        "fakepkg._validation imports torch at module level",
        "fakepkg.latents.base (latents) imports fakepkg.cli (cli)",
        "fakepkg.models.net (models) imports fakepkg.latents.base (latents)",
        "fakepkg.photonics.core imports torch"]
    assert found["cycle"] == ["cycle: fakepkg.models.net <-> fakepkg.models.other"]
    assert found["private"] == [
        "fakepkg.models.net imports fakepkg.photonics._kernels",
        "fakepkg.models.net reads fakepkg.models.other._hidden",
        "fakepkg.models.other imports fakepkg.models.net._helper"]
    assert found["local"] == [
        "fakepkg.cli imports fakepkg.models.net inside a function without a reason",
        "fakepkg.latents.base imports fakepkg.photonics.core inside a function without a "
        "reason",
        "fakepkg.latents.base imports re inside a function without a reason"]
