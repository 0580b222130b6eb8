"""Experiment configs: every name and value checked once, when the config is made."""

import tomllib
from pathlib import Path

import pytest
import torch

from qlatent.experiments.config import ExperimentConfig, load_config, to_toml
from qlatent.experiments.grid import cells, parse_seeds, select

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "configs" / "paper"


def _write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


BASE = """
[experiment]
task = "ring"
datasets = ["ring"]
latents = ["gaussian", "quantum"]
seeds = 2
latent_dims = [8, 16]
"""


@pytest.mark.parametrize("extra, error, match", [
    ("[train]\nlearning_rate = 1e-3\n", ValueError, r"'learning_rate' in \[train\]"),
    ("[model]\nwidth = 3\n", ValueError, r"'width' in \[model\]; valid keys: activation"),
    ("[task]\nradious = 3.0\n", ValueError, r"'radious' in \[task\]; valid keys: angular_sd"),
    ("[trian]\nsteps = 3\n", ValueError, r"'trian'.*valid keys: experiment, latent_params"),
    ("[train]\nseed = 3\n", ValueError, r"\[train\] must not set 'seed'"),
    ("[train]\nloss = 'hinge'\n", ValueError, r"loss must be one of"),
    ("[model]\nhidden = [0]\n", ValueError, r"model.hidden\[0\] must be >= 1, got 0"),
    ("[task]\nn_eval = 'many'\n", TypeError, r"task.n_eval must be an integer, got 'many'"),
    ("[latent_params.gausian]\nnormalize = 'center'\n", ValueError,
     r"\[latent_params.gausian\] is for a latent not in experiment.latents"),
    ("[latent_params.gaussian]\nnormalise = 'center'\n", TypeError,
     r"latent_params.gaussian \(latent_dim 8\): latent 'gaussian' takes no parameter "
     r"'normalise'; valid parameters: dim, seed, normalize"),
    ("[latent_params.gaussian]\nnormalize = 'centre'\n", ValueError,
     r"latent_params.gaussian \(latent_dim 8\): normalize must be one of"),
    ("[latent_params.quantum]\ncircuit = 'haar'\nn_photons = 12\n", ValueError,
     r"latent_params.quantum \(latent_dim 8\): n_photons must be <= 8, got 12"),
    ("[latent_params.quantum]\ncircuit = 'loop'\n", ValueError,
     r"latent_params.quantum \(latent_dim 8\): circuit must be one of"),
    ("[latent_params.quantum]\nseed = 3\n", ValueError,
     r"latent_params.quantum must not set 'seed'"),
    ("[latent_params]\nquantum = 3\n", TypeError, r"latent_params.quantum must be a table"),
    ("[model]\n[model.hidden]\nx = 1\n", TypeError, r"model.hidden must be a list"),
])
def test_bad_tables_are_named(tmp_path, extra, error, match):
    with pytest.raises(error, match=match) as err:
        load_config(_write(tmp_path, BASE + extra))
    assert str(err.value).startswith(str(tmp_path / "c.toml"))  # the file is named
    assert "\n" not in str(err.value)                            # one line


@pytest.mark.parametrize("old, new, error, match", [
    ('latents = ["gaussian", "quantum"]', 'latents = "quantum"', ValueError,
     r"experiment.latents must be a non-empty list of names, got 'quantum'"),
    ('latents = ["gaussian", "quantum"]', 'latents = ["gausian"]', ValueError,
     r"experiment.latents: name must be one of 'gaussian'.*; got 'gausian'"),
    ('latents = ["gaussian", "quantum"]', 'latents = ["gaussian", "gaussian"]', ValueError,
     r"experiment.latents must be distinct"),
    ('latents = ["gaussian", "quantum"]', 'latents = []', ValueError,
     r"experiment.latents must be a non-empty list"),
    ('latents = ["gaussian", "quantum"]', 'latents = ["bank"]', ValueError,
     r"latent_params.bank must set bank = \"<key>\": the key \(or a unique prefix\) of a "
     r"cached bank"),
    ('datasets = ["ring"]', 'datasets = ["moons"]', ValueError,
     r"unknown dataset\(s\) 'moons' for task 'ring'; valid datasets: ring"),
    ('datasets = ["ring"]', 'datasets = "ring"', ValueError,
     r"experiment.datasets must be a non-empty list of names, got 'ring'"),
    ('task = "ring"', 'task = "rings"', ValueError, r"unknown task 'rings'; valid tasks: .*ring"),
    ('seeds = 2', 'seeds = 0', ValueError, r"experiment.seeds must be >= 1, got 0"),
    ('seeds = 2', 'seeds = [1, 1]', ValueError, r"experiment.seeds must be distinct"),
    ('seeds = 2', 'seeds = "0-3"', TypeError, r"experiment.seeds must be an int or a list"),
    ('seeds = 2', 'seeds = [-1]', ValueError, r"experiment.seeds\[\] must be >= 0"),
    ('latent_dims = [8, 16]', 'latent_dims = 16', TypeError,
     r"experiment.latent_dims must be a list of ints, got 16"),
    ('latent_dims = [8, 16]', 'latent_dims = [0]', ValueError,
     r"experiment.latent_dims\[\] must be >= 1"),
    ('seeds = 2', 'seeds = 2\nsed = 1', ValueError, r"unknown key\(s\) 'sed' in \[experiment\]"),
    ('seeds = 2', 'seeds = 2\npaired_circuits = "yes"', TypeError,
     r"experiment.paired_circuits must be true or false"),
    ('task = "ring"\n', '', ValueError, r"\[experiment\] must set task"),
])
def test_bad_experiment_values_are_named(tmp_path, old, new, error, match):
    assert old in BASE
    with pytest.raises(error, match=match):
        load_config(_write(tmp_path, BASE.replace(old, new, 1)))


def test_round_trip_through_toml():
    config = load_config(PAPER / "table1.toml")
    assert ExperimentConfig.from_dict(tomllib.loads(to_toml(config.to_dict()))) == config


def test_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="invalid TOML"):
        load_config(_write(tmp_path, "[experiment\n"))
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "none.toml")


def test_every_latent_is_checked_at_every_latent_length(tmp_path):
    # 9 photons fit a 16-mode latent, not an 8-mode one: only the length 8 fails.
    text = BASE + "[latent_params.quantum]\ncircuit = 'haar'\nn_photons = 9\n"
    assert load_config(_write(tmp_path, text.replace("[8, 16]", "[16]"))).latent_dims == (16,)
    with pytest.raises(ValueError, match=r"\(latent_dim 8\): n_photons must be <= 8, got 9"):
        load_config(_write(tmp_path, text))


def test_select_checks_its_overrides():
    config = load_config(PAPER / "table1.toml")
    with pytest.raises(ValueError, match=r"experiment.latents: .*got 'gausian'"):
        select(config, latents=("gausian",))
    with pytest.raises(ValueError, match=r"unknown dataset\(s\) 'ring' for task 'table1'"):
        select(config, datasets=("ring",))
    with pytest.raises(ValueError, match="precision must be one of"):
        select(config, precision="fp16")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        select(config, steps=-1)
    with pytest.raises(ValueError, match="experiment.seeds must be distinct and non-empty"):
        select(config, seeds=())


def _recorded_tables(path: Path) -> tuple[bool, dict]:
    """(whether ``path`` is a cell's record, the tables it gives
    ``ExperimentConfig.from_dict``): a cell's table without the cell, its seeds and the per-run
    [train] keys the runner adds."""
    tables = tomllib.loads(path.read_text())
    if "cell" not in tables:
        return False, tables
    tables = {k: v for k, v in tables.items() if k not in ("cell", "seeds")}
    tables["train"] = {k: v for k, v in tables["train"].items()
                       if k not in ("seed", "device", "progress")}
    return True, tables


def _distinct_configs() -> list:
    """Every config under configs/ and every recorded config.toml under results/, the cells'
    tables once per distinct content (the cells of one experiment record the same tables;
    checking the 578 files one by one took over 100 s of the default suite's CPU)."""
    seen: dict[str, list[Path]] = {}
    for path in (sorted((ROOT / "configs").glob("**/*.toml"))
                 + sorted((ROOT / "results").glob("**/config.toml"))):
        is_cell, tables = _recorded_tables(path)
        seen.setdefault(repr(sorted(tables.items())) if is_cell else str(path), []).append(path)
    return [pytest.param(paths, id=str(paths[0].relative_to(ROOT))
                         + (f" and {len(paths) - 1} more" if len(paths) > 1 else ""))
            for paths in seen.values()]


@pytest.mark.parametrize("paths", _distinct_configs())
def test_every_config_in_the_repository_loads_and_round_trips(paths):
    # The configs, and the resolved configs of the recorded runs (evidence for the results):
    # experiment tables load as they are; a cell's table also records its cell, seeds and
    # per-run [train] keys, which the runner adds.
    path = paths[0]
    is_cell, tables = _recorded_tables(path)
    if not is_cell:
        load_config(path)  # as a user would run it again
    config = ExperimentConfig.from_dict(tables)
    again = ExperimentConfig.from_dict(tomllib.loads(to_toml(config.to_dict())))
    assert again.to_dict() == config.to_dict()
    # Older runners wrote the parameters of every latent; only the listed ones are written now.
    assert set(again.latent_params) == set(config.latents) & set(config.latent_params)
    # The files grouped with this one hold the same tables (what made them one case).
    assert all(_recorded_tables(other) == (is_cell, tables) for other in paths[1:])


def test_parse_seeds_and_select():
    assert parse_seeds("0-3,7") == (0, 1, 2, 3, 7)
    assert parse_seeds("5") == (5,)
    for bad in ("3-1", "a", "1,1", ""):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
    config = select(load_config(PAPER / "table1.toml"), seeds=(0, 1),
                    latents=("quantum", "photonic"), datasets=("quantum",), steps=7)
    assert config.train.steps == 7
    # Seed by seed, latents in the order given: q0, p0, q1, p1.
    assert [(c.latent, c.seed) for c in cells(config)] == [
        ("quantum", 0), ("photonic", 0), ("quantum", 1), ("photonic", 1)]
    # The parameters of latents left out stay (checked), but are not written.
    assert "gaussian" in config.latent_params
    assert set(config.to_dict()["latent_params"]) == {"quantum", "photonic"}


VARIANTS = """
[experiment]
task = "ring"
datasets = ["ring"]
latents = ["born_q", "born_p", "multinomial"]
seeds = 1
latent_dims = [4]

[latent_params.born_q]
latent = "born"
kind = "quantum"

[latent_params.born_p]
latent = "born"
kind = "photonic"
"""


def test_named_variants_build_their_registered_latent(tmp_path):
    from qlatent.experiments.grid import seeds_of
    from qlatent.experiments.tasks import make_latent

    config = load_config(_write(tmp_path, VARIANTS))
    assert [c.key for c in cells(config)] == ["ring/born_q-L4/seed-0", "ring/born_p-L4/seed-0",
                                              "ring/multinomial-L4/seed-0"]
    built = {c.latent: make_latent(config, c, seeds_of(config, c)) for c in cells(config)}
    assert built["born_q"].kind == "quantum" and built["born_p"].kind == "photonic"
    # paired circuits: both variants of a seed start from the same angles
    for a, b in zip(built["born_q"].parameters(), built["born_p"].parameters(), strict=True):
        assert torch.equal(a, b)
    again = ExperimentConfig.from_dict(tomllib.loads(to_toml(config.to_dict())))
    assert again.to_dict() == config.to_dict()


@pytest.mark.parametrize("old, new, error, match", [
    ('latent = "born"\nkind = "quantum"', 'latent = "borne"\nkind = "quantum"', ValueError,
     r"latent_params.born_q.latent must be one of 'gaussian'.*got 'borne'"),
    ('kind = "quantum"', 'kind = "qantum"', ValueError,
     r"latent_params.born_q \(latent_dim 4\): kind must be one of 'quantum', 'photonic'"),
    ('[latent_params.born_p]\nlatent = "born"',
     '[latent_params.born_p]\nlatent = "born"\ncircuit = "1-3-9"', ValueError,
     r"latent_params.born_p \(latent_dim 4\): dim must be >= 10 for a born latent with circuit "
     r"'1-3-9', got 4"),
    ('"born_p", "multinomial"', '"born_p", "multinomial", "born_x"', ValueError,
     r"experiment.latents: name must be one of .*or a named variant with "
     r"\[latent_params.born_x\] latent = \"<one of them>\"; got 'born_x'"),
    ('"born_q", "born_p"', '"born-q", "born_p"', ValueError, r"(is for a latent not in)"),
    ('[train]', '[train]', ValueError, r""),
])
def test_bad_variants_are_named(tmp_path, old, new, error, match):
    text = VARIANTS.replace(old, new)
    if old == '[train]':  # a variant that takes a registered name for another latent
        text = VARIANTS.replace('"born_q", "born_p"', '"quantum", "born_p"').replace(
            "[latent_params.born_q]", "[latent_params.quantum]")
        match = r"latent_params.quantum.latent must be 'quantum' or absent"
    with pytest.raises(error, match=match) as err:
        load_config(_write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_variant_names_must_be_folder_safe(tmp_path):
    text = VARIANTS.replace('"born_q", "born_p"', '"born/q", "born_p"').replace(
        "[latent_params.born_q]", '[latent_params."born/q"]')
    with pytest.raises(ValueError, match="experiment.latents: a name must hold only letters, "
                       "digits, '_', '-' and '.'.*it names a folder.*'born/q'"):
        load_config(_write(tmp_path, text))


def test_latent_lr_is_checked(tmp_path):
    with pytest.raises(ValueError, match="latent_lr must be >= 0.0, got -0.1"):
        load_config(_write(tmp_path, VARIANTS + "[train]\nlatent_lr = -0.1\n"))


def test_a_latent_may_set_its_own_latent_lr(tmp_path):
    from qlatent.experiments.grid import seeds_of
    from qlatent.experiments.tasks import make_latent

    text = VARIANTS.replace('kind = "photonic"', 'kind = "photonic"\nlatent_lr = 0.01') \
        + "[train]\nlatent_lr = 0.002\n"
    config = load_config(_write(tmp_path, text))
    assert config.train_for("born_p").latent_lr == 0.01
    assert config.train_for("born_q") == config.train and config.train.latent_lr == 0.002
    assert config.train_for("born_p") == config.train.replace(latent_lr=0.01)
    # the rate is the trainer's: the latent is built without it
    cell = next(c for c in cells(config) if c.latent == "born_p")
    assert make_latent(config, cell, seeds_of(config, cell)).kind == "photonic"
    again = ExperimentConfig.from_dict(tomllib.loads(to_toml(config.to_dict())))
    assert again.train_for("born_p").latent_lr == 0.01
    # 0 keeps a latent fixed, which any latent may ask for
    fixed = load_config(_write(tmp_path, BASE + "[latent_params.quantum]\nlatent_lr = 0\n"))
    assert fixed.train_for("quantum").latent_lr == 0.0


@pytest.mark.parametrize("text, error, match", [
    (VARIANTS.replace('kind = "photonic"', 'kind = "photonic"\nlatent_lr = -1.0'), ValueError,
     r"latent_params.born_p.latent_lr must be >= 0.0, got -1.0$"),
    (VARIANTS.replace('kind = "photonic"', 'kind = "photonic"\nlatent_lr = "fast"'), TypeError,
     r"latent_params.born_p.latent_lr must be a real number, got 'fast' \(str\)$"),
    (BASE + "[latent_params.quantum]\nlatent_lr = 0.01\n", ValueError,
     r"latent_params.quantum.latent_lr is 0.01 but latent 'quantum' has no parameters to "
     r"train; remove it, or use a trainable latent \(born, bernoulli_fit, made, multinomial, "
     r"qbm, bm, rbm\)$"),
])
def test_a_bad_latent_lr_is_named_before_anything_runs(tmp_path, text, error, match):
    with pytest.raises(error, match=match):
        load_config(_write(tmp_path, text))


def test_latent_names_with_dots_round_trip_through_toml(tmp_path):
    # A folder-safe name may hold '.', which a bare TOML key cannot: the runner's config.toml
    # quotes it, so a run folder of e.g. configs/trained/ring_lr_selection.toml reads back.
    text = VARIANTS.replace("born_p", "born.lr2e-3").replace(
        "[latent_params.born.lr2e-3]", '[latent_params."born.lr2e-3"]')
    config = load_config(_write(tmp_path, text))
    assert "born.lr2e-3" in config.latents
    written = to_toml(config.to_dict())
    assert '[latent_params."born.lr2e-3"]' in written
    again = ExperimentConfig.from_dict(tomllib.loads(written))
    assert again.to_dict() == config.to_dict()
