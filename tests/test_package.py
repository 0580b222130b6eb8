"""The top-level package: cheap import, version, and the OpenMP wait-policy default."""

import os
import subprocess
import sys


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


def test_import_sets_a_passive_wait_policy_unless_the_user_chose_one():
    code = "import os, qlatent; print(os.environ['OMP_WAIT_POLICY'])"
    assert _python(code) == "passive"
    assert _python(code, OMP_WAIT_POLICY="active") == "active"


# One fresh interpreter, imports in an order where each check still means something (a module
# already loaded by an earlier step could hide a later import): seconds per interpreter, so one
# for all of the package's import promises.
LOADS = """
import json, sys
import numpy as np
out = {}
def loaded(*prefixes):
    return sorted(m for m in sys.modules
                  if any(m == p or m.startswith(p + '.') for p in prefixes))
import qlatent._random
out['_random: torch'] = 'torch' in sys.modules
import qlatent.photonics
out['photonics: torch'] = 'torch' in sys.modules
import qlatent
out['qlatent: torch'] = 'torch' in sys.modules
out['qlatent: version'] = bool(qlatent.__version__)
out['qlatent: interop'] = 'qlatent.interop' in sys.modules
import qlatent.metrics as M, qlatent.metrics.kernels
M.exact_mmd(np.eye(2, dtype=np.uint8), [0.5, 0.5], [1.0, 0.0])
M.mmd(np.zeros((3, 2)), np.ones((3, 2)), bandwidth=1.0)
out['metrics: train'] = loaded('qlatent.train')
import qlatent.interop, qlatent.cli
out['interop, cli: SDKs'] = loaded('qiskit', 'pennylane', 'perceval')
print(json.dumps(out))
"""


def test_each_layer_imports_only_what_it_needs():
    import json

    out = json.loads(_python(LOADS))
    assert out == {
        "_random: torch": False,      # photonics imports qlatent._random
        "photonics: torch": False,    # the exact core runs without torch
        "qlatent: torch": False,      # `import qlatent` is cheap (the CLI starts fast)
        "qlatent: version": True,
        "qlatent: interop": False,    # the SDK bridges load on demand
        "metrics: train": [],         # metrics sit below train (tests/test_layering.py)
        "interop, cli: SDKs": [],     # qiskit / pennylane / perceval only when exporting
    }


def test_every_subpackage_and_top_level_name_is_listed_and_reachable():
    code = ("import sys, qlatent as ql; names = dir(ql); "
            "print(','.join(names), set(ql.__all__) <= set(names), 'torch' in sys.modules, "
            "ql.quantum.__name__, ql.UserError.__mro__[1].__name__)")
    names, complete, torch_loaded, quantum, base = _python(code).split(" ")
    assert {"load_run", "data", "metrics", "quantum", "UserError", "__version__"} <= set(
        names.split(","))
    assert complete == "True" and torch_loaded == "False"
    assert quantum == "qlatent.quantum" and base == "RuntimeError"
