"""Recommendations.plot / explain / to_html and ``autometa recommend --report``; the HTML
page is opened in a real headless Chromium when one is installed."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

import matplotlib
import numpy as np
import pandas as pd
import pytest

import autometa
from autometa._testing import space_kb as synthetic_space_kb
from autometa.errors import InvalidParameterError
from autometa.recommendation import Explanation, Recommendations

matplotlib.use("Agg")

#: Headless browsers tried, first found wins (Debian: ``apt-get install chromium`` or the
#: smaller ``chromium-headless-shell``).
BROWSERS = (
    "chromium",
    "chromium-browser",
    "chromium-headless-shell",
    "google-chrome",
    "google-chrome-stable",
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def kb():
    return synthetic_space_kb(n_datasets=25, seed=2)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    df["colour"] = rng.choice(["red", "green"], size=150)
    df["y"] = np.where(df["a"] + rng.normal(0, 0.5, 150) > 0, "yes", "no")
    return df


@pytest.fixture(scope="module")
def recs(kb, frame):
    return autometa.recommend(frame, target="y", k=4, kb=kb, model="knn", use_cache=False)


def test_reference_is_the_single_best_configuration(recs, kb):
    ref = recs.reference
    assert ref is not None and set(ref) == {
        "config_id",
        "algorithm",
        "predicted_score",
        "predicted_std",
        "rank",
    }
    perf = kb.performance("classification", "balanced_accuracy")
    assert ref["config_id"] in perf.columns and np.isfinite(ref["predicted_score"])
    picked = [r.config_id for r in recs]
    assert ref["rank"] == (
        picked.index(ref["config_id"]) + 1 if ref["config_id"] in picked else None
    )


def test_plot_draws_each_pick_and_the_reference(recs):
    ax = recs.plot()
    try:
        line = ax.containers[0].lines[0]  # the errorbar's markers
        np.testing.assert_allclose(line.get_ydata(), [r.predicted_score for r in recs])
        assert [t.get_text() for t in ax.get_xticklabels()] == [
            f"{r.rank}. {r.algorithm}" for r in recs
        ]
        horizontal = [ln for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1]
        assert horizontal and horizontal[0].get_ydata()[0] == pytest.approx(
            recs.reference["predicted_score"]
        )
        assert any("single best config" in t.get_text() for t in ax.get_legend().get_texts())
        assert recs.metric in ax.get_ylabel()
    finally:
        import matplotlib.pyplot as plt

        plt.close(ax.figure)
    # given axes, no reference (e.g. an older JSON file): drawn there, without the line
    from matplotlib.figure import Figure

    bare = Recommendations.from_dict({**recs.to_dict(), "reference": None})
    ax = bare.plot(ax=Figure().add_subplot())
    assert len(ax.containers) == 1 and not [
        ln for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1
    ]


def test_explain_names_the_nearest_datasets_and_metafeatures(recs):
    exp = recs.explain(n_features=3)
    assert isinstance(exp, Explanation)
    evidence = recs[0].evidence
    assert list(exp.neighbours.index) == list(evidence["dataset"])
    for r in recs:
        np.testing.assert_allclose(
            exp.neighbours[f"score_{r.rank}"], r.evidence["score"].to_numpy(dtype=float)
        )
    mf = exp.metafeatures
    assert len(mf) == 3
    full = recs.explain(n_features=None).metafeatures
    assert len(full) == len(recs.neighbour_metafeatures)
    known = full["query"].notna()
    assert not known[::-1].cummax()[::-1][~known].any()  # imputed ones last
    assert full["closeness"][known].is_monotonic_decreasing
    np.testing.assert_allclose(mf["closeness"], mf["gap_kb"] - mf["gap_neighbours"])
    pd.testing.assert_series_equal(
        mf["query"], recs.metafeatures.reindex(mf.index), check_names=False
    )
    assert set(evidence["dataset"]) <= set(mf.columns)
    assert "similarity view" in repr(exp) and str(evidence["dataset"][0]) in repr(exp)
    with pytest.raises(InvalidParameterError, match="n_features"):
        recs.explain(n_features=0)
    bare = Recommendations.from_dict({**recs.to_dict(), "neighbour_metafeatures": None})
    exp = bare.explain()
    assert list(exp.metafeatures.columns) == ["query"] and "not recorded" in exp.note


def test_json_keeps_reference_and_neighbour_metafeatures(recs):
    back = Recommendations.from_json(recs.to_json())
    assert back.reference == recs.reference
    pd.testing.assert_frame_equal(
        back.neighbour_metafeatures, recs.neighbour_metafeatures, check_names=False
    )
    pd.testing.assert_frame_equal(back.explain().metafeatures, recs.explain().metafeatures)


def _png_of(page: str) -> bytes:
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, "no embedded PNG"
    return base64.b64decode(match.group(1))


def test_html_report_is_self_contained_and_escaped(recs, tmp_path):
    page = recs.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert _png_of(page).startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page
    for r in recs:
        assert r.config_id in page and r.algorithm in page
    assert str(recs[0].evidence["dataset"][0]) in page and "single best configuration" in page
    hostile = Recommendations.from_dict({**recs.to_dict(), "dataset": "<script>x</script>"})
    assert "<script>x" not in hostile.to_html() and "&lt;script&gt;x" in hostile.to_html()


def test_cli_report(kb, frame, tmp_path, monkeypatch, capsys):
    from typer.testing import CliRunner

    from autometa.cli import app, run

    kb.save(tmp_path / "kb")
    frame.to_csv(tmp_path / "data.csv", index=False)
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(tmp_path / "data.csv"),
            "-t",
            "y",
            "-k",
            "3",
            "--model",
            "knn",
            "--kb",
            str(tmp_path / "kb"),
            "--json",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["recommendations"]) == 3  # stdout stays JSON
    assert "report written to" in result.stderr
    assert "<table" in report.read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        run(
            [
                "recommend",
                str(tmp_path / "data.csv"),
                "-t",
                "y",
                "--kb",
                str(tmp_path / "kb"),
                "--report",
                str(tmp_path / "missing" / "r.html"),
            ]
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: --report")


def _browser() -> str | None:
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def _run_browser(browser: str, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return subprocess.run(
        [browser, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.skipif(
    _browser() is None,
    reason="no headless Chromium installed (apt-get install chromium-headless-shell)",
)
def test_report_renders_in_headless_chromium(recs, tmp_path):
    """The page as a real browser sees it: the DOM holds the table (so the HTML parses as
    intended) and the screenshot shows the plot's blue markers (so the embedded PNG
    decodes)."""
    browser = _browser()
    page = tmp_path / "report.html"
    recs.to_html(page)
    url = page.resolve().as_uri()
    dom = _run_browser(browser, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<table" in dom.stdout and "Recommendations" in dom.stdout
    for r in recs:
        assert r.config_id in dom.stdout
    assert str(recs[0].evidence["dataset"][0]) in dom.stdout

    shot = tmp_path / "report.png"
    done = _run_browser(
        browser,
        f"--user-data-dir={tmp_path / 'profile2'}",
        "--window-size=1200,2400",
        f"--screenshot={shot}",
        url,
    )
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[0] >= 1000 and pixels.std() > 0.05  # not a blank page
    c0 = np.array([31, 119, 180]) / 255  # matplotlib's C0: the plot's markers
    assert (np.abs(pixels - c0).max(axis=-1) < 0.08).sum() > 50
