"""Runs of a boolean mask: the stretches where a signal is missing, flat or out of range."""

from __future__ import annotations

import numpy as np


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs of the runs of True in ``mask`` (stop exclusive).

    Parameters
    ----------
    mask : numpy.ndarray
        1-D boolean array.

    Returns
    -------
    list of (int, int)
        One pair per run, in order; empty when ``mask`` has no True.

    Examples
    --------
    >>> true_runs(np.array([True, True, False, False, True]))
    [(0, 2), (4, 5)]
    >>> true_runs(np.zeros(3, bool))
    []
    """
    if not mask.any():
        return []
    d = np.diff(np.r_[False, mask, False].astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))
