"""The longest functions of a package folder (lines from ``def`` to its last line).

    python benchmarks/longest_functions.py src/qlatent/experiments 5
"""

import ast
import sys
from pathlib import Path


def main(folder: str, n: int) -> None:
    rows = []
    for path in sorted(Path(folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                rows.append((node.end_lineno - node.lineno + 1, f"{path}:{node.lineno}",
                             node.name))
    for length, where, name in sorted(rows, reverse=True)[:n]:
        print(f"{length:4d}  {name:28s} {where}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
