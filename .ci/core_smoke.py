"""Smoke test of the core install (``pip install autometa``, no extras), run by .ci/run in
a plain virtual environment: the optional packages are absent, and recommending, building
the pipeline, saving and reporting work without them; the few-shot learner says which extra
it needs."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

OPTIONAL = ("torch", "distributed", "dask", "hypothesis", "pymfe")

present = [name for name in OPTIONAL if importlib.util.find_spec(name) is not None]
if present:
    sys.exit(f"core smoke: not a core-only environment, found {present}")

import matplotlib  # after the check above, on purpose

matplotlib.use("Agg")

from sklearn.datasets import load_breast_cancer

import autometa
from autometa import space
from autometa.recommendation import Recommendations

df = load_breast_cancer(as_frame=True).frame
recs = autometa.recommend(df, target="target", k=3)
assert len(recs) == 3 and recs.task == "classification", recs
X, y = df.drop(columns="target"), df["target"]
with space.quiet_fit_warnings():
    pipe = recs[0].make_pipeline().fit(X, y)
assert pipe.score(X, y) > 0.8
assert Recommendations.from_json(recs.to_json()).to_dict() == recs.to_dict()
with tempfile.TemporaryDirectory() as tmp:
    page = recs.to_html(Path(tmp) / "report.html")
assert "data:image/png;base64," in page and recs[0].config_id in page
print(recs)
print(recs.explain(n_features=3))

try:
    from autometa.fewshot import FewShotClassifier

    FewShotClassifier().fit(X.iloc[:10], y.iloc[:10])
except ImportError as exc:
    assert "autometa[torch]" in str(exc), exc
else:
    sys.exit("core smoke: the few-shot learner ran without torch")
print("core smoke: ok")
