"""``scripts/extend_real_size.py``: which datasets a real-size extension queues, per task."""

from __future__ import annotations

import pytest

from autometa.kb import KnowledgeBase, default_kb_path


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("extend_real_size")


@pytest.fixture(scope="module")
def kb():
    if not (default_kb_path() / "kb.json").exists():
        pytest.skip("no shipped knowledge base")
    return KnowledgeBase.load(default_kb_path())


def test_one_task_queues_its_larger_datasets_smallest_first(script, kb):
    sources = script.sources_by_size(kb, 500, ("regression",))
    datasets = kb.datasets("regression").set_index("source")
    assert set(sources) <= set(datasets.index)
    rows = [float(datasets.loc[s, "n_rows"]) for s in sources]
    assert min(rows) > 500 and rows == sorted(rows)
    assert not any("~" in str(datasets.loc[s, "dataset"]) for s in sources)  # no variants
    expected = datasets[
        (datasets["n_rows"].astype(float) > 500) & ~datasets["dataset"].str.contains("~")
    ]
    assert len(sources) == len(expected)


def test_both_tasks_alternate(script, kb):
    both = script.sources_by_size(kb, 500)
    regression = script.sources_by_size(kb, 500, ("regression",))
    classification = script.sources_by_size(kb, 500, ("classification",))
    assert sorted(both) == sorted(regression + classification)
    assert both[:2] == [classification[0], regression[0]]
