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


def test_import_is_cheap_and_loads_no_torch():
    code = "import sys, qlatent; print('torch' in sys.modules, bool(qlatent.__version__))"
    assert _python(code) == "False True"


def test_every_subpackage_and_top_level_name_is_listed_and_reachable():
    code = ("import sys, qlatent as ql; names = dir(ql); "
            "print(','.join(names), set(ql.__all__) <= set(names), 'torch' in sys.modules, "
            "ql.quantum.__name__, ql.UserError.__mro__[1].__name__)")
    names, complete, torch_loaded, quantum, base = _python(code).split(" ")
    assert {"load_run", "data", "metrics", "quantum", "UserError", "__version__"} <= set(
        names.split(","))
    assert complete == "True" and torch_loaded == "False"
    assert quantum == "qlatent.quantum" and base == "RuntimeError"
