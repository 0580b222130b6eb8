"""Every Python example in README.md and docs/*.md runs, so the documentation cannot rot.

A block runs in a fresh namespace, in a temporary working directory, with the test's own
cache. A Markdown comment on the line before a block marks it: `<!-- test: slow -->` (runs
with `make test-slow`), `<!-- test: chem -->` (needs the chem extra), both may be combined
(`<!-- test: slow chem -->`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- test: (?P<marks>[a-z ]+) -->\n)?```python\n(?P<code>.*?)```",
                   re.DOTALL)


def _examples():
    for page in PAGES:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            marks = (match.group("marks") or "").split()
            unknown = set(marks) - {"slow", "chem"}
            if unknown:
                raise ValueError(f"{page.name}:{line}: unknown test mark(s) {sorted(unknown)}")
            yield pytest.param(match.group("code"), f"{page.name}:{line}",
                               marks=[getattr(pytest.mark, m) for m in marks],
                               id=f"{page.relative_to(ROOT)}:{line}")


EXAMPLES = list(_examples())


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 5, [e.id for e in EXAMPLES]


@pytest.mark.parametrize(("code", "where"), EXAMPLES)
def test_example_runs(code, where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})  # noqa: S102
