"""Run a few-shot module or script on a bare machine (the GPU box).

That machine has torch, numpy, pandas and scikit-learn but not necessarily the rest of
autometa's dependencies (openml, optuna, xgboost, ...), and autometa is not installed
there. The launcher puts this checkout on ``sys.path`` and runs the target like
``python -m MODULE ...`` / ``python SCRIPT.py ...``. ``autometa/__init__.py`` imports its
public names lazily, so ``import autometa`` needs none of those dependencies; the
fallback below (an empty ``autometa`` package: ``autometa.fewshot`` needs only
``autometa.errors`` and ``autometa._io``) is a guard should that ever change.

    python scripts/fewshot_launch.py -m autometa.fewshot.train --device cuda ...
    python scripts/fewshot_launch.py benchmarks/fewshot.py --split val ...
"""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
try:
    import autometa  # noqa: F401
except Exception as exc:  # noqa: BLE001 - any failure of the eager imports
    for name in [m for m in sys.modules if m == "autometa" or m.startswith("autometa.")]:
        del sys.modules[name]
    pkg = types.ModuleType("autometa")
    pkg.__path__ = [str(ROOT / "autometa")]
    pkg.__version__ = "bare"
    sys.modules["autometa"] = pkg
    print(
        f"fewshot_launch: `import autometa` failed ({exc!r}); using a bare package", file=sys.stderr
    )

args = sys.argv[1:]
if not args:
    sys.exit(__doc__)
if args[0] == "-m":
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
