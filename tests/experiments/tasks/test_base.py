"""The task base: typed tables (parsed and checked once), field docs, registry, cell seeds."""

from dataclasses import dataclass

import pytest

from qlatent.experiments.tasks import (
    Params,
    Task,
    cell_seeds,
    field_docs,
    get_task,
    param,
    register_task,
    task_names,
)


@dataclass(frozen=True)
class _Table(Params):
    """A table with one field of each supported kind."""

    TABLE = "model"

    width: int = param(3, minimum=1)
    """An integer >= 1."""
    rate: float = param(0.5, minimum=0.0, maximum=1.0)
    """A float in [0, 1]."""
    kind: str = param("a", choices=["a", "b"])
    """A choice."""
    flag: bool = False
    """A boolean."""
    sizes: tuple[int, ...] = param((1, 2), minimum=1)
    """A non-empty list of integers."""
    pair: tuple[float, float] = (0.0, 1.0)
    """Two floats."""
    maybe: int | None = None
    undocumented: int = 0


def test_from_table_parses_lists_and_ints_for_floats():
    t = _Table.from_table({"sizes": [4, 5], "rate": 1, "pair": [1, 2]})
    assert t.sizes == (4, 5) and t.rate == 1.0 and isinstance(t.rate, float)
    assert t.pair == (1.0, 2.0)
    assert _Table.from_table(None) == _Table() and _Table.from_table(t) is t
    assert _Table.from_table(t.to_table()) == t
    assert t.to_table()["sizes"] == [4, 5] and "maybe" not in t.to_table()
    assert t.replace(width=7).width == 7


@pytest.mark.parametrize("table, error, match", [
    ({"widht": 3}, ValueError, r"unknown key\(s\) 'widht' in \[model\]; valid keys: flag, "
                               r"kind, maybe, pair, rate, sizes, undocumented, width"),
    ({"width": 0}, ValueError, r"model.width must be >= 1, got 0"),
    ({"width": 2.5}, TypeError, r"model.width must be an integer, got 2.5"),
    ({"width": True}, TypeError, r"model.width must be an integer"),
    ({"rate": 1.5}, ValueError, r"model.rate must be <= 1.0"),
    ({"rate": "high"}, TypeError, r"model.rate must be a real number"),
    ({"kind": "c"}, ValueError, r"model.kind must be one of 'a', 'b'; got 'c'"),
    ({"flag": "yes"}, TypeError, r"model.flag must be true or false, got 'yes'"),
    ({"sizes": []}, ValueError, r"model.sizes must be a non-empty list"),
    ({"sizes": "12"}, TypeError, r"model.sizes must be a list, got '12'"),
    ({"sizes": [1, 0]}, ValueError, r"model.sizes\[1\] must be >= 1, got 0"),
    ({"pair": [1.0]}, ValueError, r"model.pair must hold 2 values"),
    ({"maybe": "x"}, TypeError, r"model.maybe must be an integer"),
])
def test_bad_values_name_the_key(table, error, match):
    with pytest.raises(error, match=match):
        _Table.from_table(table)


def test_from_table_needs_a_table():
    with pytest.raises(TypeError, match=r"\[model\] must be a table, got 3"):
        _Table.from_table(3)
    with pytest.raises(ValueError, match=r"in my\.toml \[model\]"):
        _Table.from_table({"x": 1}, where="my.toml [model]")


def test_field_docs_reads_the_docstring_after_each_field():
    docs = field_docs(_Table)
    assert docs["width"] == "An integer >= 1." and docs["undocumented"] == ""
    assert list(docs) == list(_Table.keys())


@pytest.mark.parametrize("name", ["ring", "table1", "qm9"])
def test_every_field_of_every_task_table_has_a_docstring(name):
    task = get_task(name)
    for table in (task.model_table, task.task_table):
        docs = field_docs(table)
        assert docs and all(docs.values()), (table.__name__, docs)
        table()  # the defaults are valid


def test_registry():
    assert {"ring", "table1", "qm9"} <= set(task_names())
    with pytest.raises(ValueError, match="unknown task 'rings'; valid tasks: .*ring"):
        get_task("rings")
    with pytest.raises(TypeError, match="Task subclass"):
        register_task(object())

    class Minimal(Task):
        name = "minimal-test-task"
        datasets = ("d",)
        metrics = ()

        def build(self, ctx):
            raise NotImplementedError

        def evaluate(self, ctx, built, latent):
            raise NotImplementedError

    task = register_task(Minimal())
    assert get_task("minimal-test-task") is task
    # The hooks have defaults, so the runner and the report call them directly.
    assert task.callbacks(None, None, None) == []
    assert task.report_sections([], None, None) == [] and task.figures([], None, None) == []


def test_cell_seeds_pair_data_and_circuits():
    q, p = cell_seeds(3, "quantum"), cell_seeds(3, "photonic")
    assert q.data.entropy == p.data.entropy and q.latent == p.latent and q.model == p.model
    other = cell_seeds(4, "quantum")
    assert other.latent != q.latent and other.model != q.model
    assert cell_seeds(3, "quantum", paired_circuits=False).latent != \
        cell_seeds(3, "photonic", paired_circuits=False).latent


def test_cell_seeds_are_those_of_earlier_versions():
    # Recorded in results/table2_bf16/qm9/gaussian-L16/seed-0/config.toml: a change of the
    # derivation would silently change every run's streams.
    s = cell_seeds(0, "gaussian", latent_dim=16)
    assert (str(s.latent), str(s.model), str(s.train), str(s.evaluate)) == (
        "6507545498964559083", "3720216480020437449", "2494635221133837528",
        "6102389744414414618")
    assert list(s.data.entropy) == [0, 1]
