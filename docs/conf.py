"""Sphinx configuration of the autometa documentation.

Build (warnings are errors, as in ``.ci/run``)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # autometa and metafeatures from this checkout

import autometa

project = "autometa"
author = "the autometa developers"
copyright = "the autometa developers"
release = autometa.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

# The API pages are generated from the numpydoc docstrings; class members are listed by
# autodoc itself (numpydoc's own member tables would need autosummary stubs).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the docstrings say the types, in numpydoc's words
autodoc_inherit_docstrings = False
# torch is an optional extra: without it, document the few-shot learner from mocks
autodoc_mock_imports = [] if importlib.util.find_spec("torch") else ["torch"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"autometa {release}"
html_theme_options = {
    "description": "Meta-learning recommendations for tabular machine learning",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []


def write_cli_help(path: Path = DOCS / "_generated" / "cli_help.md") -> None:
    """The ``--help`` of ``autometa`` and each of its commands, as the CLI prints it, for
    guide/cli.md to include (typer's commands are not click's, so sphinx-click cannot
    document them)."""
    import typer
    from typer.testing import CliRunner

    from autometa.cli import app

    env = {"COLUMNS": "96", "NO_COLOR": "1", "TERM": "dumb"}
    commands = typer.main.get_command(app).commands
    names = [name for name, command in commands.items() if not command.hidden]  # no aliases
    parts = []
    for title, args in [("autometa", [])] + [(f"autometa {n}", [n]) for n in names]:
        result = CliRunner().invoke(app, [*args, "--help"], env=env, terminal_width=96)
        if result.exit_code != 0:
            raise RuntimeError(f"{title} --help failed: {result.output}")
        text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        parts.append(f"### `{title}`\n\n```text\n{text}\n```\n")
    path.parent.mkdir(exist_ok=True)
    new = "\n".join(parts)
    if not path.exists() or path.read_text(encoding="utf-8") != new:  # keep builds incremental
        path.write_text(new, encoding="utf-8")


write_cli_help()


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """scikit-learn's generated ``set_*_request`` methods: their docstrings point into
    scikit-learn's own documentation (glossary terms, labels) and say nothing about
    autometa."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
