import os
from pathlib import Path

import pytest

# Tests run two workers on two cores: one thread each keeps them from fighting.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # see qlatent/__init__.py


@pytest.fixture(scope="session")
def qm9_every_600th() -> Path:
    """A QM9-format CSV of every 600th molecule of qm9pack's QM9 (219 SMILES), committed so
    that the task's end-to-end tests need not parse all 130,831 rows (seconds each);
    tests/data/test_qm9.py checks it against qm9pack."""
    return Path(__file__).resolve().parent / "data" / "qm9_every_600th.csv"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its cache to a temporary folder, never to ~/.cache/qlatent."""
    if "QLATENT_TEST_SHARED_CACHE" in os.environ:
        return
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path_factory.mktemp("cache")))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip where torch sees no CUDA device."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
