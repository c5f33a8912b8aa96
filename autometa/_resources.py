"""Where the files shipped in the repository's ``data/`` folder are at run time.

A wheel installs ``data/`` as the resource package ``autometa._shipped`` (see
``pyproject.toml``); an editable install or a source checkout reads it in place.
"""

from __future__ import annotations

from pathlib import Path


def shipped_path(*parts: str) -> Path:
    """Path of ``data/<parts>`` as shipped with this installation of autometa.

    Examples
    --------
    >>> shipped_path("kb").name
    'kb'
    """
    from importlib.util import find_spec

    # A namespace package (data/ holds no __init__.py): its folder is its search location.
    spec = find_spec("autometa._shipped")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
    else:  # source checkout / editable install
        root = Path(__file__).resolve().parent.parent / "data"
    return root.joinpath(*parts)
