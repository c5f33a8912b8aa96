"""The meta-train/val/test split keeps aliases and families together (no torch needed)."""

from __future__ import annotations

import pytest

from autometa.fewshot.split import SPLITS, group_of, load_split, make_split

FAMILIES = [
    ["breast", "breast-w", "breast-cancer-wisconsin", "wdbc"],
    ["cmc", "contraceptive"],
    ["crx", "credit-a", "buggyCrx", "australian"],
    ["credit-g", "german"],
    ["diabetes", "pima"],
    ["cleve", "heart-c", "cleveland"],
    ["vote", "house-votes-84"],
    ["allbp", "allhyper", "allhypo", "allrep", "dis"],
    [
        "GAMETES_Epistasis_2-Way_20atts_0.1H_EDM-1_1",
        "GAMETES_Heterogeneity_20atts_1600_Het_0.4_0.2_50_EDM-2_001",
    ],
    ["Hill_Valley_with_noise", "Hill_Valley_without_noise"],
]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f[0])
def test_family_shares_a_group(family):
    assert len({group_of(n) for n in family}) == 1


def test_committed_split_is_consistent():
    rec = load_split()
    seen = [n for s in SPLITS for n in rec[s]]
    assert len(seen) == len(set(seen)) == len(rec["datasets"])
    side = {n: s for s in SPLITS for n in rec[s]}
    for family in FAMILIES:
        present = [n for n in family if n in side]
        assert len({side[n] for n in present}) <= 1, family
    # The committed file is what the code computes (no hand edits drifted in).
    assert make_split(rec["datasets"])["groups"] == rec["groups"]
    assert all(len(rec[s]) >= 20 for s in SPLITS)
