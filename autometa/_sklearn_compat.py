"""Every use of scikit-learn's private API in autometa, in one place.

``AutoClassifier``/``AutoRegressor`` declare ``_parameter_constraints`` the way scikit-learn's
own estimators do and check them with scikit-learn's validator, so that their errors read
like scikit-learn's. The constraint classes live in the private module
``sklearn.utils._param_validation`` (there is no public home for them). Checked on
scikit-learn 1.9.1, the version the test suite runs on; the module has kept these names
since scikit-learn 1.2. When a new minor version comes out, run ``tests/test_auto.py`` (it
covers every constraint and the error messages).
"""

from __future__ import annotations

from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "validate_parameter_constraints",
]
