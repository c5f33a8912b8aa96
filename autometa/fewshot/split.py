"""Meta-train / meta-validation / meta-test split of the PMLB classification corpus.

Datasets are split by *group*, not by name: aliases of one dataset (``crx``,
``credit-a``, ``buggyCrx``, ``australian``) and families of near-copies (the thyroid
family, GAMETES, Hill_Valley, mfeat, ...) always fall on the same side, so a meta-test
score is never inflated by a meta-train copy of the same table.

The split is a pure function of the dataset names (a salted SHA-256 of the group name),
so it is reproducible without the file; the committed ``data/fewshot/split.json`` is the
record that the benchmark and training read.  This module imports neither torch nor
anything else beyond the standard library.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

SPLITS = ("train", "val", "test")
SALT = "autometa-fewshot-split-v1"
#: Fractions of *groups* per split (train, val, test).
FRACTIONS = (0.6, 0.2, 0.2)

# (group, pattern) in priority order: the first pattern matching a dataset name decides its
# group.  Patterns are matched against the lower-cased name with "-" and "_" unified to "_".
FAMILIES: list[tuple[str, str]] = [
    # Wisconsin breast cancer (original and diagnostic) and Ljubljana breast-cancer: one theme.
    ("breast", r"^(breast.*|wdbc)$"),
    ("contraceptive", r"^(cmc|contraceptive)$"),
    # Statlog/UCI credit approval under four names.
    ("credit_approval", r"^(crx|credit_a|buggycrx|australian)$"),
    ("german_credit", r"^(credit_g|german)$"),
    ("pima", r"^(diabetes|pima)$"),
    # Heart disease: Cleveland under several names, Hungarian, Statlog.
    ("heart", r"^(cleve|heart_c|cleveland.*|heart_h|hungarian|heart_statlog)$"),
    ("votes", r"^(vote|house_votes_84)$"),
    # Quinlan's thyroid data: allbp/allhyper/allhypo/allrep/dis are one table with different
    # targets; hypothyroid and ann-thyroid come from the same source.
    ("thyroid", r"^(allbp|allhyper|allhypo|allrep|dis|hypothyroid|ann_thyroid|new_thyroid)$"),
    ("gametes", r"^gametes_.*$"),
    ("hill_valley", r"^hill_valley.*$"),
    ("car", r"^(car|car_evaluation)$"),
    ("cars", r"^(cars|cars1)$"),
    ("monk", r"^monk\d$"),
    ("mfeat", r"^mfeat_.*$"),
    ("led", r"^led\d+$"),
    ("waveform", r"^waveform_\d+$"),
    ("parity", r"^parity5.*$"),
    ("promoters", r"^(promoters|molecular_biology_promoters)$"),
    ("solar_flare", r"^(solar_flare_\d|flare)$"),
    ("wine_quality", r"^wine_quality_.*$"),
    ("boxing", r"^analcatdata_boxing\d$"),
    ("cyyoung", r"^analcatdata_cyyoung\d+$"),
    ("horse_colic", r"^(colic|horse_colic)$"),
    ("spect", r"^(spect|spectf)$"),
    ("mushroom", r"^(mushroom|agaricus_lepiota)$"),
    ("chess", r"^(chess|kr_vs_kp|krkopt)$"),
    ("musk", r"^clean\d$"),
    ("glass", r"^(glass|glass2|prnn_fglass)$"),
    ("liver", r"^(bupa|liver_disorder)$"),
    ("digits", r"^(optdigits|pendigits)$"),
]


def _norm(name: str) -> str:
    return re.sub(r"[-_]+", "_", name.lower())


def group_of(name: str) -> str:
    """The group (family) a dataset belongs to; its own name when it has no family.

    Examples
    --------
    >>> group_of("buggyCrx"), group_of("allhypo"), group_of("iris")
    ('credit_approval', 'thyroid', 'iris')
    """
    key = _norm(name)
    for group, pattern in FAMILIES:
        if re.match(pattern, key):
            return group
    return key


def split_of_group(group: str, *, salt: str = SALT, fractions=FRACTIONS) -> str:
    """Which split a group falls on: a salted hash mapped to [0, 1) and cut by ``fractions``."""
    digest = hashlib.sha256(f"{salt}:{group}".encode()).hexdigest()
    u = int(digest[:12], 16) / float(16**12)
    edge = 0.0
    for split, frac in zip(SPLITS, fractions):
        edge += frac
        if u < edge:
            return split
    return SPLITS[-1]


def make_split(names: Iterable[str], *, salt: str = SALT) -> dict:
    """Build the split record for ``names``.

    Returns
    -------
    dict
        ``{"salt", "fractions", "groups": {group: split}, "datasets": {name: group},
        "train": [names], "val": [names], "test": [names]}``.
    """
    names = sorted(set(names))
    datasets = {n: group_of(n) for n in names}
    groups = {g: split_of_group(g, salt=salt) for g in sorted(set(datasets.values()))}
    record: dict = {
        "salt": salt,
        "fractions": list(FRACTIONS),
        "groups": groups,
        "datasets": datasets,
    }
    for split in SPLITS:
        record[split] = [n for n in names if groups[datasets[n]] == split]
    return record


def default_split_path() -> Path:
    """``data/fewshot/split.json`` of the source checkout."""
    from autometa._resources import shipped_path

    return shipped_path("fewshot", "split.json")


def load_split(path: str | Path | None = None) -> dict:
    """Read a committed split record (``data/fewshot/split.json`` by default)."""
    path = Path(path) if path is not None else default_split_path()
    with open(path) as fh:
        return json.load(fh)


def main(argv: list[str] | None = None) -> None:
    """``python -m autometa.fewshot.split CORPUS_DIR [OUT]``: (re)write the split file."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    corpus = Path(argv[0] if argv else "../shared/corpus/pmlb/classification")
    out = Path(argv[1]) if len(argv) > 1 else default_split_path()
    names = [p.name[: -len(".tsv.gz")] for p in sorted(corpus.glob("*.tsv.gz"))]
    record = make_split(names)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print({s: len(record[s]) for s in SPLITS}, "groups:", len(record["groups"]))


if __name__ == "__main__":
    main()
