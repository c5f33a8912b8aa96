"""The result objects of :func:`autometa.recommend`: :class:`Recommendation` and
:class:`Recommendations` (table, JSON, plot, HTML report, explanation).

They hold what a recommendation is; how it is computed lives in
:mod:`autometa.recommendation`, how it is explained (:class:`Explanation`) in
:mod:`autometa._explain`, its HTML page in :mod:`autometa._report`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa._explain import Explanation, explain_recommendations
from autometa._io import json_default
from autometa.errors import ConfigError, InvalidParameterError


class NoveltyWarning(UserWarning):
    """The dataset is unlike every dataset of the knowledge base; recommendations are
    extrapolations (their ``predicted_std`` is inflated accordingly)."""


# --------------------------------------------------------------------------------------
# result objects
# --------------------------------------------------------------------------------------


@dataclass
class Recommendation:
    """One recommended configuration.

    Attributes
    ----------
    config : dict
        The configuration (``autometa.space`` format).
    config_id : str
    algorithm : str
    rank : int
        1 = the first to try.
    predicted_score : float
        Expected value of ``metric`` on the dataset (cross-validated), in the metric's
        units. For a configuration the probing race cross-validated on the dataset
        (``recommend(..., probe=True)``), the meta-model's prediction updated with what
        the race measured (precision-weighted; the measurement usually dominates).
    predicted_std : float
        Its uncertainty (standard deviation, same units); after the race's measurement,
        that of one held-out fold's score like the race's.
    predicted_normalised : float
        The meta-model's score: 1 = as good as the best of the portfolio, 0 = its median.
    predicted_fit_time : float
        Expected seconds to fit on the whole dataset (NaN when the knowledge base has no
        fit times).
    evidence : pandas.DataFrame
        The most similar knowledge-base datasets and how this config did there:
        ``dataset, distance, score, rank, n_configs``.
    metric, task : str
    """

    config: dict[str, Any]
    config_id: str
    algorithm: str
    rank: int
    predicted_score: float
    predicted_std: float
    predicted_normalised: float
    predicted_fit_time: float
    evidence: pd.DataFrame
    metric: str
    task: str
    categorical: list[str] = field(default_factory=list, repr=False)

    def make_pipeline(self, random_state: int | None = 0) -> Any:
        """A new, unfitted scikit-learn estimator for this configuration that accepts the
        raw DataFrame (categorical columns and missing values included), built for
        :attr:`metric` (for balanced accuracy its ``predict`` ignores how common each
        class is: :class:`~autometa._balanced.BalancedPriorClassifier`).

        Raises
        ------
        ConfigError
            The config is not one of autometa's search space (e.g. an opaque algorithm
            name from a ``KnowledgeBase.from_frames`` knowledge base).

        Examples
        --------
        >>> recs = autometa.recommend(df, target="y")  # doctest: +SKIP
        >>> recs[0].make_pipeline().fit(X, y)  # doctest: +SKIP
        """
        from autometa import space
        from autometa.metrics import METRICS

        try:
            return space.build(
                dict(self.config),
                categorical=list(self.categorical),
                task=self.task,
                random_state=random_state,
                # a from_frames knowledge base may score a metric autometa does not know:
                # its model is the plain estimator
                metric=self.metric if self.metric in METRICS else None,
            )
        except ConfigError as exc:
            raise ConfigError(
                f"config {self.config_id!r} (algorithm {self.algorithm!r}) cannot be built "
                f"into a pipeline: {exc}. Configs from a knowledge base made with "
                "from_frames are names only; build their estimators yourself"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (evidence as a list of records; NaN as ``None``)."""
        return {
            "rank": self.rank,
            "config_id": self.config_id,
            "algorithm": self.algorithm,
            "predicted_score": _f(self.predicted_score),
            "predicted_std": _f(self.predicted_std),
            "predicted_normalised": _f(self.predicted_normalised),
            "predicted_fit_time": _f(self.predicted_fit_time),
            "metric": self.metric,
            "task": self.task,
            "config": self.config,
            "categorical": list(self.categorical),
            "evidence": [
                {k: _f(v) if isinstance(v, float) else v for k, v in r.items()}
                for r in self.evidence.to_dict("records")
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recommendation:
        """The recommendation :meth:`to_dict` described (``None`` read back as NaN)."""
        evidence = pd.DataFrame.from_records(
            list(data.get("evidence") or []), columns=list(EVIDENCE_COLUMNS)
        )
        for column in ("distance", "score", "rank"):
            evidence[column] = pd.to_numeric(evidence[column], errors="coerce").astype(float)
        return cls(
            config=dict(data["config"]),
            config_id=str(data["config_id"]),
            algorithm=str(data["algorithm"]),
            rank=int(data["rank"]),
            predicted_score=_nan(data["predicted_score"]),
            predicted_std=_nan(data["predicted_std"]),
            predicted_normalised=_nan(data["predicted_normalised"]),
            predicted_fit_time=_nan(data["predicted_fit_time"]),
            evidence=evidence,
            metric=str(data["metric"]),
            task=str(data["task"]),
            categorical=list(data.get("categorical") or []),
        )


#: Columns of :attr:`Recommendation.evidence`.
EVIDENCE_COLUMNS = ("dataset", "distance", "score", "rank", "n_configs")
#: Version of the layout :meth:`Recommendations.to_json` writes.
JSON_FORMAT_VERSION = 1


#: Numeric columns of :attr:`Recommendations.probes` (NaN is written as null).
_PROBE_NUMBERS = ("score", "seconds", "rows", "folds")


def _f(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _frame_to_dict(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    """A float frame as JSON-friendly ``index, columns, data`` (NaN as ``None``)."""
    if frame is None:
        return None
    return {
        "index": [str(i) for i in frame.index],
        "columns": [str(c) for c in frame.columns],
        "data": [[_f(float(v)) for v in row] for row in frame.to_numpy(dtype=float)],
    }


def _frame_from_dict(data: Mapping[str, Any] | None) -> pd.DataFrame | None:
    if not data:
        return None
    values = [[_nan(v) for v in row] for row in data["data"]]
    return pd.DataFrame(
        values, index=list(data["index"]), columns=list(data["columns"]), dtype=float
    )


class Recommendations(Sequence[Recommendation]):
    """The recommended configurations, best first.

    Behaves as a sequence of :class:`Recommendation`; :meth:`to_frame` gives a table, and
    printing it (or displaying it with rich) shows one.

    Attributes
    ----------
    dataset : str
    task, metric, model : str
    metafeatures : pandas.Series
        The meta-features the ranking used.
    warnings : list of str
        Why the recommendations may be less reliable than usual.
    timings : dict
        Seconds spent per step.
    kb_fingerprint : str or None
        :meth:`KnowledgeBase.fingerprint` of the knowledge base they come from.
    autometa_version : str
        The autometa version that made them.
    probes : pandas.DataFrame or None
        With ``recommend(..., probe=True)``: what was measured on the dataset, one row per
        configuration: ``stage`` (``"probe"``: a probe configuration of the meta-model;
        ``"race"``: a raced recommendation), ``config_id``, ``algorithm``, ``score``,
        ``status``, ``seconds`` (of fitting), ``rows`` and ``folds`` (the fidelity).
    reference : dict or None
        The knowledge base's single best configuration (the best mean normalised score
        over its datasets) as the same meta-model predicts it for this dataset:
        ``config_id, algorithm, predicted_score, predicted_std, rank`` (``rank``: its place
        among the recommendations, ``None`` when it is not one). :meth:`plot` draws it as
        the reference line. ``None`` for recommendations made without one.
    neighbour_metafeatures : pandas.DataFrame or None
        What :meth:`explain` compares: one row per meta-feature the meta-model's distance
        uses; columns ``query`` (this dataset's value), one column per nearest
        knowledge-base dataset (its value), ``gap_neighbours`` and ``gap_kb`` (mean absolute
        difference from the query in the meta-model's scaled units, 0..1, to those nearest
        datasets and to all knowledge-base datasets). ``None`` when not recorded.
    """

    probes: pd.DataFrame | None = None
    reference: dict[str, Any] | None = None
    neighbour_metafeatures: pd.DataFrame | None = None

    def __init__(
        self,
        items: Sequence[Recommendation],
        *,
        dataset: str,
        task: str,
        metric: str,
        model: str,
        metafeatures: pd.Series,
        warnings: Sequence[str] = (),
        timings: Mapping[str, float] | None = None,
        kb_fingerprint: str | None = None,
        autometa_version: str | None = None,
    ) -> None:
        from autometa import __version__

        self._items = list(items)
        self.dataset = dataset
        self.task = task
        self.metric = metric
        self.model = model
        self.metafeatures = metafeatures
        self.warnings = list(warnings)
        self.timings = dict(timings or {})
        self.kb_fingerprint = kb_fingerprint
        self.autometa_version = autometa_version or __version__

    def __getitem__(self, i):  # type: ignore[override]
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self._items)

    def to_frame(self) -> pd.DataFrame:
        """One row per recommendation: rank, algorithm, config_id, predicted score, std,
        normalised score, fit time, and the config."""
        return pd.DataFrame(
            [
                {
                    "rank": r.rank,
                    "algorithm": r.algorithm,
                    "config_id": r.config_id,
                    "predicted_score": r.predicted_score,
                    "predicted_std": r.predicted_std,
                    "predicted_normalised": r.predicted_normalised,
                    "predicted_fit_time": r.predicted_fit_time,
                    "config": r.config,
                }
                for r in self._items
            ]
        ).set_index("rank")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly contents (NaN as ``None``); :meth:`from_dict` reads it back."""
        return {
            "format_version": JSON_FORMAT_VERSION,
            "autometa_version": self.autometa_version,
            "kb_fingerprint": self.kb_fingerprint,
            "dataset": self.dataset,
            "task": self.task,
            "metric": self.metric,
            "model": self.model,
            "warnings": self.warnings,
            "recommendations": [r.to_dict() for r in self._items],
            "metafeatures": {str(k): _f(float(v)) for k, v in self.metafeatures.items()},
            "timings": {k: float(v) for k, v in self.timings.items()},
            "probes": None
            if self.probes is None
            else [
                {k: (_f(float(v)) if k in _PROBE_NUMBERS else v) for k, v in row.items()}
                for row in self.probes.to_dict("records")
            ],
            "reference": None
            if self.reference is None
            else {k: (_f(v) if isinstance(v, float) else v) for k, v in self.reference.items()},
            "neighbour_metafeatures": _frame_to_dict(self.neighbour_metafeatures),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recommendations:
        """The recommendations :meth:`to_dict` described.

        Raises
        ------
        InvalidParameterError
            ``data`` is not a :meth:`to_dict` result, or one of a newer format.
        """
        if not isinstance(data, Mapping) or "recommendations" not in data:
            raise InvalidParameterError(
                "data is not a Recommendations.to_dict()/to_json() result (it has no "
                "'recommendations')"
            )
        version = data.get("format_version", JSON_FORMAT_VERSION)
        if not isinstance(version, int) or version > JSON_FORMAT_VERSION:
            raise InvalidParameterError(
                f"recommendations of format_version {version!r} need a newer autometa "
                f"(this one reads up to {JSON_FORMAT_VERSION})"
            )
        try:
            items = [Recommendation.from_dict(r) for r in data["recommendations"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(f"a recommendation cannot be read back: {exc!r}") from exc
        metafeatures = pd.Series(
            {k: _nan(v) for k, v in (data.get("metafeatures") or {}).items()}, dtype=float
        )
        recommendations = cls(
            items,
            dataset=str(data.get("dataset", "")),
            task=str(data.get("task", "")),
            metric=str(data.get("metric", "")),
            model=str(data.get("model", "")),
            metafeatures=metafeatures,
            warnings=list(data.get("warnings") or []),
            timings=data.get("timings") or {},
            kb_fingerprint=data.get("kb_fingerprint"),
            autometa_version=data.get("autometa_version"),
        )
        if data.get("probes") is not None:
            from autometa._probing import TABLE_COLUMNS

            # files written before the race have probe rows only, without these columns
            recommendations.probes = pd.DataFrame(
                [
                    {"stage": "probe", "rows": None, "folds": None}
                    | {k: (_nan(v) if k in _PROBE_NUMBERS else v) for k, v in row.items()}
                    for row in data["probes"]
                ],
                columns=TABLE_COLUMNS,
            ).astype({"rows": float, "folds": float})
        if data.get("reference") is not None:
            recommendations.reference = {
                k: (_nan(v) if k in ("predicted_score", "predicted_std") else v)
                for k, v in data["reference"].items()
            }
        recommendations.neighbour_metafeatures = _frame_from_dict(
            data.get("neighbour_metafeatures")
        )
        return recommendations

    def to_json(self, path: str | os.PathLike | None = None, *, indent: int | None = 1) -> str:
        """The recommendations as strict JSON (no NaN), with the knowledge base's
        fingerprint and the autometa version; :meth:`from_json` reads it back.

        Parameters
        ----------
        path : str or path-like, default=None
            Also write the text to this file.
        indent : int or None, default=1
            Indentation of the JSON text (``None``: one line).

        Returns
        -------
        str

        Examples
        --------
        >>> recs.to_json("recs.json")  # doctest: +SKIP
        >>> Recommendations.from_json(Path("recs.json"))[0].make_pipeline()  # doctest: +SKIP
        """
        import json

        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=json_default)
        if path is not None:
            Path(path).expanduser().write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | bytes | os.PathLike) -> Recommendations:
        """Recommendations from what :meth:`to_json` (or ``autometa recommend --json``)
        wrote.

        Parameters
        ----------
        source : str, bytes or path-like
            The JSON text, or a path (``pathlib.Path``) of a file holding it.

        Raises
        ------
        InvalidParameterError
            The text is not JSON, or not recommendations.
        """
        import json

        if isinstance(source, os.PathLike):
            source = Path(source).expanduser().read_text(encoding="utf-8")
        try:
            data = json.loads(source)
        except ValueError as exc:
            raise InvalidParameterError(
                f"source is not JSON text ({exc}); pass a pathlib.Path to read a file"
            ) from exc
        return cls.from_dict(data)

    def _rows(self) -> list[list[str]]:
        rows = []
        for r in self._items:
            params = r.config.get("params", {}) if isinstance(r.config, dict) else {}
            brief = ", ".join(f"{k}={_short(v)}" for k, v in list(params.items())[:4])
            t = "" if not np.isfinite(r.predicted_fit_time) else f"{r.predicted_fit_time:.2g}s"
            rows.append(
                [
                    str(r.rank),
                    r.algorithm,
                    f"{r.predicted_score:.4g} ± {r.predicted_std:.2g}",
                    t,
                    brief,
                ]
            )
        return rows

    def __repr__(self) -> str:
        head = (
            f"Recommendations for {self.dataset!r} ({self.task}, {self.metric}, model={self.model})"
        )
        cols = ["rank", "algorithm", f"predicted {self.metric}", "fit time", "params"]
        rows = self._rows()
        widths = [
            max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)
        ]
        lines = [head, "  ".join(c.ljust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(
            title=f"Recommendations for {self.dataset} ({self.task}, {self.metric})",
            caption="\n".join(f"warning: {w}" for w in self.warnings) or None,
        )
        for c in ("rank", "algorithm", f"predicted {self.metric}", "fit time", "params"):
            table.add_column(c)
        for row in self._rows():
            table.add_row(*row)
        return table

    def plot(self, ax: Any = None) -> Any:
        """Plot each recommendation's predicted score with its predicted standard deviation,
        against the knowledge base's single best configuration (:attr:`reference`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None``: a new figure (``matplotlib.pyplot``).

        Returns
        -------
        matplotlib.axes.Axes

        Notes
        -----
        Scores are in the metric's units, as ``predicted_score ± predicted_std``. The
        dashed line (and its band, ± its predicted std) is the single best configuration's
        score predicted by the same meta-model for this dataset: the configuration one
        would pick without meta-features. Recommendations made without a reference (e.g.
        read from JSON written before it existed) are plotted without the line.

        Examples
        --------
        >>> recs = autometa.recommend(df, target="y")  # doctest: +SKIP
        >>> recs.plot().figure.savefig("recs.png")  # doctest: +SKIP
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(
                figsize=(max(4.5, 1.0 * len(self) + 2.5), 3.8), layout="constrained"
            )
        xs = np.arange(1, len(self) + 1)
        if len(self):
            ys = np.array([r.predicted_score for r in self], dtype=float)
            err = np.nan_to_num(np.array([r.predicted_std for r in self], dtype=float), nan=0.0)
            ax.errorbar(
                xs,
                ys,
                yerr=err,
                fmt="o",
                capsize=4,
                color="C0",
                label="recommendation (± predicted std)",
            )
            ax.set_xticks(xs, [f"{r.rank}. {r.algorithm}" for r in self], rotation=25, ha="right")
        ref = self.reference
        if ref is not None and np.isfinite(ref.get("predicted_score", np.nan)):
            score, std = float(ref["predicted_score"]), float(ref.get("predicted_std", np.nan))
            where = f", pick {ref['rank']}" if ref.get("rank") else ""
            ax.axhline(
                score,
                color="C3",
                linestyle="--",
                label=f"single best config of the KB ({ref['algorithm']}{where}) ± std",
            )
            if np.isfinite(std) and std > 0:
                ax.axhspan(score - std, score + std, color="C3", alpha=0.12, linewidth=0)
        better = _greater_is_better(self.metric)
        ax.set_ylabel(
            f"predicted {self.metric}" + ("" if better is not False else " (lower is better)")
        )
        ax.set_xlabel("recommendation")
        ax.set_title(f"Recommendations for {self.dataset} (model {self.model})")
        ax.grid(axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
        return ax

    def explain(self, n_features: int | None = 10) -> Explanation:
        """Why these recommendations: the knowledge-base datasets nearest to this one, how
        each recommendation did on them, and the meta-features on which they resemble it.

        Parameters
        ----------
        n_features : int or None, default=10
            Meta-features to list (``None``: all), those on which the nearest datasets are
            most alike the query first.

        Returns
        -------
        Explanation

        Notes
        -----
        This is a similarity view, not an attribution of the meta-model's prediction (the
        fitted meta-model is not kept with the recommendations). The nearest datasets are
        those closest to this one in the meta-model's scaled meta-feature space (L1
        distance, as in each recommendation's ``evidence``); they are the datasets whose
        results the ``knn`` model ranks by and the ones the ``default`` and ``forest``
        models' predictions draw on most when this dataset resembles them. A meta-feature's
        ``closeness`` is ``gap_kb - gap_neighbours``: how much nearer the query its value
        is on the nearest datasets than on the knowledge base's datasets on average, in the
        scaled units (0..1); the top ones are what sets the nearest datasets apart.
        Meta-features the query lacks (imputed for the distance) are listed last.

        Examples
        --------
        >>> exp = recs.explain()  # doctest: +SKIP
        >>> exp.neighbours  # doctest: +SKIP
        >>> exp.metafeatures[["query", "neighbours_median", "closeness"]]  # doctest: +SKIP
        """
        return explain_recommendations(self, n_features)

    def to_html(self, path: str | os.PathLike | None = None) -> str:
        """One self-contained HTML page: the table, the :meth:`plot` (an embedded PNG), the
        single best configuration for reference and the :meth:`explain` evidence.

        Parameters
        ----------
        path : str or path-like, default=None
            Also write the page to this file (``autometa recommend ... --report``).

        Returns
        -------
        str
            The HTML document; it loads nothing from elsewhere.
        """
        from autometa._report import render_report

        text = render_report(self)
        if path is not None:
            Path(path).expanduser().write_text(text, encoding="utf-8")
        return text


def _greater_is_better(metric: str) -> bool | None:
    from autometa.metrics import METRICS

    return METRICS[metric].greater_is_better if metric in METRICS else None


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
