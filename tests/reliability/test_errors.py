"""Every failure a user can cause is an AutometaError naming the argument and value, and
the CLI prints it as one ``error:`` line (``--debug`` shows the traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa import space
from autometa.errors import AutometaError, ConfigError, InvalidParameterError, KnowledgeBaseError
from autometa.kb import KnowledgeBase


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=list("abc"))
    return X.assign(y=(X["a"] > 0).astype(int))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time_budget": "10"}, "time_budget must be a positive number.*'10'"),
        ({"time_budget": -1}, "time_budget.*-1"),
        ({"time_budget": float("nan")}, "time_budget.*nan"),
        ({"k": True}, "k must be a positive integer, got True"),
        ({"k": 0}, "k must be a positive integer, got 0"),
        ({"metafeature_budget": 0}, "metafeature_budget.*0"),
    ],
)
def test_recommend_arguments_are_checked_at_the_boundary(frame, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        autometa.recommend(frame, target="y", **kwargs)


def test_k_above_the_portfolio_says_so(frame):
    recs = autometa.recommend(frame, target="y", k=10_000)
    assert any("k=10000 is more than" in note for note in recs.warnings)


def test_params_that_are_not_a_dict():
    config = dict(space.defaults("classification")[0], params=[1, 2])
    with pytest.raises(ConfigError, match="'params' is a dict.*list"):
        space.build(config)


def test_a_config_that_is_not_a_dict_names_the_file(tmp_path):
    kb = KnowledgeBase.from_frames(
        pd.DataFrame({"r": [1.0, 2.0]}, index=["a", "b"]),
        pd.DataFrame({"rf": [0.5, 0.6]}, index=["a", "b"]),
        task="classification",
        metric="accuracy",
    )
    kb.save(tmp_path / "kb")
    info = json.loads((tmp_path / "kb" / "kb.json").read_text())
    info.pop("checksums")
    (tmp_path / "kb" / "kb.json").write_text(json.dumps(info))
    (tmp_path / "kb" / "configs.json").write_text(json.dumps({"classification": {"rf": [1]}}))
    with pytest.raises(KnowledgeBaseError, match=r"configs\.json.*'rf' is not a JSON object"):
        KnowledgeBase.load(tmp_path / "kb")


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "autometa.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_one_error_line_and_debug_shows_the_traceback(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    plain = _cli("recommend", str(tmp_path / "data.csv"), "-t", "nope")
    assert plain.returncode == 2
    assert plain.stderr.strip().startswith("error:") and len(plain.stderr.strip().splitlines()) == 1
    debug = _cli("--debug", "recommend", str(tmp_path / "data.csv"), "-t", "nope")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_errors_are_autometa_errors():
    for error in (InvalidParameterError, ConfigError, KnowledgeBaseError):
        assert issubclass(error, AutometaError)
