"""Breathing rate and depth of one time window (or a whole phase)."""

from __future__ import annotations

from typing import Any

import numpy as np

from physio.rsp.rsp_peaks import BreathSeries

#: Least fraction of a window covered by valid breaths for a rate.
MIN_RSP_COVERAGE = 0.5
#: Fewest valid breaths for a rate.
MIN_BREATHS = 2


def rsp_window(
    breaths: BreathSeries | None,
    start_s: float,
    end_s: float,
    *,
    min_coverage: float = MIN_RSP_COVERAGE,
    min_breaths: int = MIN_BREATHS,
) -> dict[str, Any]:
    """Median breathing rate (breaths/min) and depth of the breaths in ``[start_s, end_s)``.

    A breath belongs to the window holding its middle. The median of the breath-by-breath
    rates is robust to one missed or split breath. Depth (``resp_amplitude``) is the
    median peak-to-trough excursion in the belt's units, NaN for an ECG-derived trace.

    Returns
    -------
    dict
        ``resp_rate_bpm``, ``resp_amplitude``, ``resp_source`` (``belt``/``ecg``/``n/a``),
        ``n_breaths``, ``resp_reason`` ('' when valid).

    Examples
    --------
    >>> from physio.rsp.rsp_peaks import rsp_breaths
    >>> t = np.arange(0, 180, 0.1)
    >>> b = rsp_breaths(np.sin(2 * np.pi * 0.15 * t), 10.0)
    >>> w = rsp_window(b, 60, 120)
    >>> round(w["resp_rate_bpm"], 2), round(w["resp_amplitude"], 2), w["resp_source"]
    (9.0, 2.0, 'belt')
    """
    nan = float("nan")
    out: dict[str, Any] = {"resp_rate_bpm": nan, "resp_amplitude": nan, "resp_source": "n/a",
                           "n_breaths": 0, "resp_reason": ""}
    if breaths is None:
        out["resp_reason"] = "no breathing signal"
        return out
    if len(breaths.onset_s) < 2:
        out["resp_reason"] = f"no breaths found in the {breaths.source} trace"
        return out
    mid = breaths.mid_s
    sel = (mid >= start_s) & (mid < end_s) & np.isfinite(breaths.rate_bpm)
    n = int(sel.sum())
    out["n_breaths"] = n
    dur = float(end_s - start_s)
    covered = float(np.sum(60.0 / breaths.rate_bpm[sel])) / dur if dur > 0 else 0.0
    if n < min_breaths:
        out["resp_reason"] = f"{n} valid breath(s) in the window < {min_breaths}"
        return out
    if covered < min_coverage:
        out["resp_reason"] = (f"valid breaths cover {100 * covered:.0f}% of the window < "
                              f"{100 * min_coverage:.0f}%")
        return out
    out["resp_rate_bpm"] = float(np.median(breaths.rate_bpm[sel]))
    if breaths.source == "belt":
        out["resp_amplitude"] = float(np.median(breaths.amplitude[sel]))
    out["resp_source"] = breaths.source
    return out
