"""The package's layers, read from the source: no import cycle between files, no module importing a layer above its
own (nor one front-end the other), the core never importing a UI library, and no import of a module that is gone.

Every `import` of a module of the package counts, inside functions too: a lazy import still ties the two files
together, and closes a cycle as surely as one at the top. Only imports under `if TYPE_CHECKING:` are left out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import ft_jupyter

PACKAGE = Path(ft_jupyter.__file__).parent

# Bottom to top: a module may import from its own layer and the layers below. Packages and top-level modules are
# named without the "ft_jupyter." prefix; "ft_jupyter" itself is the package's __init__.py.
LAYERS: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"install", "noise", "lessons", "exercises"}),
        "standard library only: install hints, filters for library noise, the lesson index, exercise checks",
    ),
    (frozenset({"config"}), "the one config model: every other layer speaks RunConfig"),
    (
        frozenset({"frontend", "progress"}),
        "the notebook-or-console switch and the one progress bar, used by every long job of the core",
    ),
    (frozenset({"data"}), "formats, checks, splits and chat templates: needs a tokenizer, never a model name"),
    (frozenset({"models"}), "catalogue and estimates from config; reads data (tiny-random's corpus, token counts)"),
    (
        frozenset({"checkup", "ft_jupyter"}),
        "the doctor reads the model catalogue; the package root offers it, the config and __version__",
    ),
    (frozenset({"train"}), "turns a RunConfig, data and a model into a run folder"),
    (frozenset({"evaluate"}), "scores, compares and forecasts the runs train makes"),
    (frozenset({"export"}), "merges and verifies runs with evaluate's generation and latency"),
    (frozenset({"workshop", "demo"}), "ready-made flows over train and evaluate: a class's set-up, the quickstart"),
    (frozenset({"ui"}), "widgets and figures over every layer below"),
    (frozenset({"server"}), "REST handlers over run folders, estimates and the config panel's code"),
    (
        frozenset({"cli"}),
        "the command line; each <package>/commands.py holds its sub-commands for that feature and stands here too",
    ),
)
# Two views over the same layers: the notebook widgets and the REST handlers behind the lab sidebar. The server must
# run without the widget libraries, so what both need (the config's Python cell, estimates, forecasts) stands below.
APART = (("ui", "server"),)
CORE = ("config", "data", "models", "train", "evaluate", "export")
UI_LIBRARIES = frozenset({"ipywidgets", "plotly", "anywidget", "jupyter_server", "tornado"})


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported name, resolved to the module that defines it when it is one of the package's
    path: Path
    line: int

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root.parent)}:{self.line}"


def module_name(path: Path, root: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def _imported(node: ast.AST, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The dotted modules one statement imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        anchor = parts[: len(parts) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    # `from a import b` imports the module a.b where there is one, else a name defined in a (so a itself).
    submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
    return submodules if len(submodules) == len(node.names) else [*submodules, base]


def read_imports(root: Path) -> tuple[set[str], list[Import]]:
    """The package's modules, and every import in them (third-party ones too, under their full dotted name)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    found = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) not in skipped:
                for name in _imported(node, module, path.name == "__init__.py", modules):
                    found.append(Import(module, name, path, node.lineno))
    return modules, found


def package_edges(modules: set[str], imports: list[Import]) -> list[Import]:
    return [i for i in imports if i.target in modules and i.target != i.source]


def missing_modules(modules: set[str], imports: list[Import], root: Path) -> list[str]:
    return [
        f"{i.where(root)} imports {i.target}, which does not exist"
        for i in imports
        if i.target.split(".")[0] == root.name and i.target not in modules
    ]


def find_cycle(modules: set[str], edges: list[Import]) -> list[Import] | None:
    """One import cycle between files, as the imports that make it, or None."""
    out: dict[str, list[Import]] = {m: [] for m in modules}
    for edge in edges:
        out[edge.source].append(edge)
    done: set[str] = set()
    stack: list[str] = []  # the modules on the current path
    path: list[Import] = []  # path[i] goes from stack[i] to stack[i + 1]

    def visit(module: str) -> list[Import] | None:
        stack.append(module)
        for edge in out[module]:
            if edge.target in stack:
                return [*path[stack.index(edge.target) :], edge]
            if edge.target not in done:
                path.append(edge)
                cycle = visit(edge.target)
                if cycle:
                    return cycle
                path.pop()
        stack.pop()
        done.add(module)
        return None

    for module in sorted(modules):
        if module not in done:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def _layer_name(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[-1] == "commands":
        return "cli"  # a package's commands.py: the CLI's sub-commands for that feature
    return parts[1] if len(parts) > 1 else parts[0]


def layer_of(module: str) -> int:
    name = _layer_name(module)
    for rank, (names, _) in enumerate(LAYERS):
        if name in names:
            return rank
    raise KeyError(module)


def back_arrows(edges: list[Import], root: Path) -> list[str]:
    found = []
    for edge in edges:
        source, target = layer_of(edge.source), layer_of(edge.target)
        if target > source:
            found.append(
                f"{edge.where(root)} imports {edge.target}: {_layer_name(edge.source)} (layer {source}) stands "
                f"below {_layer_name(edge.target)} (layer {target})"
            )
        pair = {_layer_name(edge.source), _layer_name(edge.target)}
        if any(pair == set(apart) for apart in APART):
            apart = " and ".join(sorted(pair))
            found.append(f"{edge.where(root)} imports {edge.target}: {apart} import nothing of each other")
    return found


def ui_imports(imports: list[Import], root: Path) -> list[str]:
    core_top = max(layer_of(f"{root.name}.{name}") for name in CORE)
    return [
        f"{i.where(root)} imports {i.target}"
        for i in imports
        if i.target.split(".")[0] in UI_LIBRARIES and layer_of(i.source) <= core_top
    ]


def _cycle_text(cycle: list[Import], root: Path) -> str:
    return " -> ".join(f"{e.where(root)} ({e.target})" for e in cycle)


@pytest.fixture(scope="module")
def graph():
    modules, imports = read_imports(PACKAGE)
    return modules, imports, package_edges(modules, imports)


def test_every_module_has_a_layer(graph):
    modules, _, _ = graph
    unplaced = []
    for module in sorted(modules):
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"place these in LAYERS (tests/unit/test_layering.py), with the reason: {unplaced}"


def test_no_import_cycle_between_files(graph):
    modules, _, edges = graph
    cycle = find_cycle(modules, edges)
    assert cycle is None, (
        "import cycle between files: "
        + _cycle_text(cycle, PACKAGE)
        + ". Move the piece both need into a module they both import."
    )


def test_no_module_imports_a_layer_above_its_own(graph):
    _, _, edges = graph
    found = back_arrows(edges, PACKAGE)
    assert not found, "imports against the layering (move the piece to the lower package):\n" + "\n".join(found)


def test_every_import_of_the_package_names_a_module_that_exists(graph):
    # A lazy import of a moved or deleted module fails only when its function first runs.
    modules, imports, _ = graph
    found = missing_modules(modules, imports, PACKAGE)
    assert not found, "imports of modules that are not in the package:\n" + "\n".join(found)


def test_core_never_imports_a_ui_library(graph):
    _, imports, _ = graph
    found = ui_imports(imports, PACKAGE)
    assert not found, "the core (and what it may import) imports a UI library:\n" + "\n".join(found)


def test_the_graph_sees_lazy_imports_and_ui_libraries(graph):
    # Imports that are known to exist, one at module level and two inside functions: were the reader to miss them,
    # every check above would pass on an empty graph.
    _, imports, edges = graph
    pairs = {(e.source, e.target) for e in edges}
    assert ("ft_jupyter.train.run", "ft_jupyter.train.store") in pairs
    assert ("ft_jupyter.train.run", "ft_jupyter.data.prepare") in pairs  # inside run_training
    assert any(i.source == "ft_jupyter.ui.panel" and i.target.split(".")[0] == "ipywidgets" for i in imports)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "ft_jupyter" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "ft_jupyter"


def test_planted_back_arrows_cycle_ui_import_and_missing_module_are_reported(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "config/__init__.py": "",
            "config/run.py": "def f():\n    from ft_jupyter.train.a import x\n",
            "data/__init__.py": "",
            "data/commands.py": "import ft_jupyter.models.m\n",  # a sub-command of the CLI may import any layer
            "data/x.py": "from ft_jupyter.data import commands\n",
            "models/__init__.py": "",
            "models/m.py": "def h():\n    from ft_jupyter.train.mixing import mix\n",
            "server/__init__.py": "",
            "server/h.py": "from ft_jupyter.ui import w\n",
            "train/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ft_jupyter.ui.w\n",
            "train/a.py": "from ft_jupyter.train import b\nimport plotly.graph_objects\nx = 1\n",
            "train/b.py": "def g():\n    from ft_jupyter.train.a import x\n",
            "ui/__init__.py": "",
            "ui/w.py": "import ipywidgets\n",
        },
    )
    modules, imports = read_imports(root)
    edges = package_edges(modules, imports)
    assert back_arrows(edges, root) == [
        "ft_jupyter/config/run.py:2 imports ft_jupyter.train.a: config (layer 1) stands below train (layer 6)",
        "ft_jupyter/data/x.py:1 imports ft_jupyter.data.commands: data (layer 3) stands below cli (layer 12)",
        "ft_jupyter/server/h.py:1 imports ft_jupyter.ui.w: server and ui import nothing of each other",
    ]
    cycle = find_cycle(modules, edges)
    assert _cycle_text(cycle, root) == (
        "ft_jupyter/train/a.py:1 (ft_jupyter.train.b) -> ft_jupyter/train/b.py:2 (ft_jupyter.train.a)"
    )
    assert ui_imports(imports, root) == ["ft_jupyter/train/a.py:2 imports plotly.graph_objects"]
    assert missing_modules(modules, imports, root) == [
        "ft_jupyter/models/m.py:2 imports ft_jupyter.train.mixing, which does not exist"
    ]
    # The TYPE_CHECKING import of ui from train is left out.
    assert not any(e.source == "ft_jupyter.train" for e in edges)
