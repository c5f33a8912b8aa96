"""The pipeline class autometa hands out: a scikit-learn ``Pipeline`` with bounded threads.

BLAS libraries start one thread per core for every matrix product. An MLP cross-validated
on a busy machine then fights its own threads (seen: 48.5 s with all threads against 1.8 s
with one on 2 cores), so every fit and prediction of an autometa pipeline runs under
``threadpoolctl.threadpool_limits``. Estimators with their own ``n_jobs`` (forests,
XGBoost) are unaffected: the limit applies to BLAS only.
"""

from __future__ import annotations

from collections.abc import Callable

from sklearn.pipeline import Pipeline as _SklearnPipeline
from sklearn.utils.metaestimators import available_if
from threadpoolctl import threadpool_limits


def _final_has(attr: str) -> Callable[[BoundedPipeline], bool]:
    return lambda self: hasattr(self._final_estimator, attr)


class BoundedPipeline(_SklearnPipeline):
    """A scikit-learn :class:`~sklearn.pipeline.Pipeline` whose BLAS threads are bounded.

    Parameters
    ----------
    steps : list of (name, estimator) tuples
        As for :class:`sklearn.pipeline.Pipeline`.
    blas_threads : int or None, default=1
        Threads BLAS may use during ``fit`` and every prediction method. ``None`` leaves
        the library's own setting.
    transform_input, memory, verbose
        As for :class:`sklearn.pipeline.Pipeline`.
    """

    def __init__(self, steps, *, blas_threads=1, transform_input=None, memory=None, verbose=False):
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.blas_threads = blas_threads

    def _limits(self):
        return threadpool_limits(limits=self.blas_threads, user_api="blas")

    def fit(self, X, y=None, **params):
        with self._limits():
            return super().fit(X, y, **params)

    @available_if(_final_has("predict"))
    def predict(self, X, **params):
        with self._limits():
            return super().predict(X, **params)

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X, **params):
        with self._limits():
            return super().predict_proba(X, **params)

    @available_if(_final_has("decision_function"))
    def decision_function(self, X, **params):
        with self._limits():
            return super().decision_function(X, **params)

    @available_if(_final_has("score"))
    def score(self, X, y=None, sample_weight=None, **params):
        with self._limits():
            return super().score(X, y, sample_weight=sample_weight, **params)
