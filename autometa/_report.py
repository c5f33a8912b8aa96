"""One self-contained HTML page for a set of recommendations
(:meth:`autometa.Recommendations.to_html`, ``autometa recommend ... --report``).

The page has no external resources: the style is inline and the plot is a base64 PNG, so
it can be mailed, attached to a ticket or opened offline. All text that comes from the
data (dataset, column and knowledge-base names, configurations) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_png", "render_report", "write_report"]

#: Meta-features listed in the report's evidence section.
REPORT_METAFEATURES = 15

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #1d232a; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.8em;
     border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
.meta { color: #57606a; font-size: 0.92em; } .meta code { font-size: 0.95em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: right; }
th { background: #f6f8fa; } td.text, th.text { text-align: left; }
table.dataframe td, table.dataframe th { text-align: right; }
table.dataframe td:first-child, table.dataframe th:first-child { text-align: left;
    font-weight: 600; }
.scroll { overflow-x: auto; max-width: 100%; }
.warnings { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.5em 1em; }
.note { color: #57606a; font-size: 0.9em; max-width: 60em; }
img.plot { max-width: 100%; border: 1px solid #d0d7de; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
details { margin: 0.3em 0; }
"""


def plot_png(recs: Any, *, dpi: int = 110) -> bytes:
    """:meth:`~autometa.Recommendations.plot` as PNG bytes (no pyplot: a headless,
    thread-safe Agg figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5.5, 1.1 * len(recs) + 3.0), 4.2), layout="constrained")
    recs.plot(ax=fig.add_subplot())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, fmt: str = ".4g") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return "–" if not np.isfinite(v) else format(v, fmt)


def _frame(frame: pd.DataFrame, *, fmt: str = ".4g") -> str:
    """A table with its index as the first (left-aligned) column, scrolling sideways
    rather than overflowing the page."""
    table = frame.reset_index() if frame.index.name else frame
    return (
        '<div class="scroll">'
        + table.to_html(
            escape=True, border=0, na_rep="–", index=False, float_format=lambda v: format(v, fmt)
        )
        + "</div>"
    )


def _recommendations_table(recs: Any) -> str:
    head = [
        "rank",
        "algorithm",
        "config_id",
        f"predicted {recs.metric}",
        "normalised",
        "fit time (s)",
        "parameters",
    ]
    text = {"algorithm", "config_id", "parameters"}
    rows = []
    for r in recs:
        params = r.config.get("params", {}) if isinstance(r.config, dict) else {}
        brief = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
        )
        cells = [
            str(r.rank),
            r.algorithm,
            r.config_id,
            f"{_num(r.predicted_score)} ± {_num(r.predicted_std, '.2g')}",
            _num(r.predicted_normalised, ".3f"),
            _num(r.predicted_fit_time, ".2g"),
            brief,
        ]
        rows.append(
            "<tr>"
            + "".join(
                f'<td class="text">{_e(c)}</td>' if h in text else f"<td>{_e(c)}</td>"
                for h, c in zip(head, cells)
            )
            + "</tr>"
        )
    header = "".join(
        f'<th class="text">{_e(h)}</th>' if h in text else f"<th>{_e(h)}</th>" for h in head
    )
    return (
        f'<table class="recommendations"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _reference_sentence(recs: Any) -> str:
    ref = getattr(recs, "reference", None)
    if not ref:
        return ""
    where = (
        f"it is recommendation {int(ref['rank'])}"
        if ref.get("rank")
        else "it is not among the recommendations"
    )
    return (
        f"<p>The knowledge base's single best configuration is <b>{_e(ref['algorithm'])}"
        f"</b> (<code>{_e(ref['config_id'])}</code>), predicted "
        f"{_num(ref.get('predicted_score'))} ± {_num(ref.get('predicted_std'), '.2g')} "
        f"here; {where}. The plot draws it as the dashed line.</p>"
    )


def render_report(recs: Any, *, title: str | None = None) -> str:
    """The HTML page of :meth:`autometa.Recommendations.to_html`.

    Parameters
    ----------
    recs : Recommendations
    title : str, optional
        Page title (default: ``autometa recommendations for <dataset>``).

    Returns
    -------
    str
        One self-contained HTML document.
    """
    title = title or f"autometa recommendations for {recs.dataset}"
    parts = [
        f"<h1>{_e(title)}</h1>",
        (
            f'<p class="meta">task <b>{_e(recs.task)}</b> · metric <b>{_e(recs.metric)}</b> · '
            f"meta-model <b>{_e(recs.model)}</b> · knowledge base "
            f"<code>{_e(recs.kb_fingerprint or 'unknown')}</code> · autometa "
            f"{_e(recs.autometa_version)}</p>"
        ),
    ]
    if recs.warnings:
        parts.append(
            '<div class="warnings"><b>Warnings</b><ul>'
            + "".join(f"<li>{_e(w)}</li>" for w in recs.warnings)
            + "</ul></div>"
        )
    parts += [
        "<h2>Recommendations</h2>",
        _recommendations_table(recs),
        (
            '<p class="note">Predicted scores are cross-validated expectations in the '
            "metric's units ± one predicted standard deviation; normalised: 1 = as good as "
            "the best configuration of the portfolio, 0 = its median. Picks after the first "
            "hedge against it, so they are not sorted by predicted score.</p>"
        ),
        _reference_sentence(recs),
    ]
    if len(recs):
        png = base64.b64encode(plot_png(recs)).decode("ascii")
        parts += [
            "<h2>Predicted scores</h2>",
            (
                f'<img class="plot" alt="predicted {_e(recs.metric)} per recommendation" '
                f'src="data:image/png;base64,{png}">'
            ),
        ]
    explanation = recs.explain(n_features=REPORT_METAFEATURES)
    parts += [
        "<h2>Evidence: nearest knowledge-base datasets</h2>",
        _frame(explanation.neighbours),
        "<h2>Meta-features that set them apart</h2>",
        _frame(explanation.metafeatures),
        f'<p class="note">{_e(explanation.note)}</p>',
    ]
    if getattr(recs, "probes", None) is not None and len(recs.probes):
        parts += ["<h2>Probes</h2>", _frame(recs.probes)]
    if len(recs):
        parts.append("<h2>Configurations</h2>")
        for r in recs:
            text = json.dumps(r.config, indent=1, default=str)
            parts.append(
                f"<details><summary>{r.rank}. {_e(r.algorithm)} "
                f"<code>{_e(r.config_id)}</code></summary><pre>{_e(text)}</pre>"
                "</details>"
            )
    if recs.timings:
        parts.append(
            '<p class="meta">seconds: '
            + ", ".join(f"{_e(k)} {v:.2f}" for k, v in recs.timings.items())
            + "</p>"
        )
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def write_report(recs: Any, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8); returns the path."""
    path = Path(path).expanduser()
    path.write_text(render_report(recs, title=title), encoding="utf-8")
    return path
