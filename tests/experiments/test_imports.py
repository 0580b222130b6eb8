"""The experiment layer's own imports: no cycle, and the runner's rooms import inside a function
only what is optional (an extra such as Ray or the trackers), saying so in a comment."""

import ast
from pathlib import Path

import qlatent.experiments

PACKAGE = Path(qlatent.experiments.__file__).parent
# The rooms of the runner (issue 20): every import inside a function there is an optional one.
ROOMS = ("grid.py", "packing.py", "cell.py", "executors.py", "provenance.py", "config.py",
         "tasks/base.py")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> list[tuple[ast.AST, bool]]:
    """Every import statement (outside ``if TYPE_CHECKING:`` blocks, which name types for
    annotations and never run), with whether it sits inside a function."""
    found = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, in_function))
            walk(child, in_function or isinstance(child, ast.FunctionDef
                                                  | ast.AsyncFunctionDef))

    walk(tree, False)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node, _ in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                # `from pkg import sub` imports the submodule when there is one
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges.add(target)
                    # importing a.b.c runs the package a.b first
                    parent = target.rsplit(".", 1)[0]
                    while parent in modules and parent != name:
                        edges.add(parent)
                        parent = parent.rsplit(".", 1)[0]
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_experiment_modules_import_one_another_without_a_cycle():
    graph = _graph()
    assert "qlatent.experiments.cell" in graph["qlatent.experiments.executors"]  # sees edges
    # a package's __init__ importing its own submodules is the package, not a cycle
    acyclic = {name: {t for t in edges if not name.startswith(t + ".")}
               for name, edges in graph.items()}
    assert _cycle(acyclic) is None, " -> ".join(_cycle(acyclic))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_runners_rooms_import_inside_functions_only_optional_extras_with_a_comment():
    unexplained = []
    for room in ROOMS:
        path = PACKAGE / room
        lines = path.read_text().splitlines()
        for node, in_function in _imports(ast.parse(path.read_text())):
            if not in_function:
                continue
            here, above = lines[node.lineno - 1], lines[node.lineno - 2]
            if "optional" not in here and "optional" not in above:
                unexplained.append(f"{room}:{node.lineno}: {here.strip()}")
    assert not unexplained, "imports inside functions without a reason:\n" + "\n".join(
        unexplained)
