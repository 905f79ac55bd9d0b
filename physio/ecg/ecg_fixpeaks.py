"""Artefact and ectopic-beat classification of an RR series (Lipponen & Tarvainen 2019).

This is the algorithm behind ``nk.signal_fixpeaks(method="kubios")`` re-implemented so that it
is vectorised (neurokit2 loops over every beat in Python) and so that its *decisions* can be
used separately from its *corrections*: soothe keeps the true time of an ectopic beat (it is a
real heartbeat, and moving it would misplace it) and interpolates only its RR intervals.

References
----------
Lipponen, J. A., & Tarvainen, M. P. (2019). A robust algorithm for heart rate variability time
series artefact correction using novel beat classification. Journal of Medical Engineering &
Technology, 43(3), 173-181.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Constants of Lipponen & Tarvainen (2019), as in their paper and in neurokit2.
C1, C2, ALPHA, WINDOW_BEATS, MEDFILT_BEATS = 0.13, 0.17, 5.2, 91, 11
#: Lowest threshold as a fraction of the running median RR; not in the paper, see
#: :func:`_threshold` (chosen by measurement on MIT-BIH 100/113/121, bench_ecg_accuracy.py).
MIN_THRESHOLD_FRACTION = 0.12


def _threshold(x: np.ndarray, medrr: np.ndarray) -> np.ndarray:
    s = pd.Series(np.abs(x))
    roll = s.rolling(WINDOW_BEATS, center=True, min_periods=1)
    th = ALPHA * (roll.quantile(0.75).to_numpy() - roll.quantile(0.25).to_numpy()) / 2.0
    # floor: in a very regular rhythm the quartile spread is a few ms, and 5.2 x QD flags
    # ordinary 5 % beat-to-beat changes as ectopic (on MIT-BIH 121, 2-4 % of normal beats;
    # that interpolation then biased RMSSD low); a perfectly regular series would give 0
    return np.maximum(th, MIN_THRESHOLD_FRACTION * medrr)


def ecg_fixpeaks(rr_s: np.ndarray) -> dict[str, np.ndarray]:
    """Classify each interval of a contiguous RR series (seconds) as Lipponen & Tarvainen do.

    Parameters
    ----------
    rr_s : numpy.ndarray
        RR intervals in seconds; ``rr_s[i]`` ends at beat ``i + 1`` of the run.

    Returns
    -------
    dict
        Boolean masks over ``rr_s`` (an ectopic beat is flagged on one of its two abnormal
        intervals, the premature one or the compensatory one): ``ectopic``, ``missed``,
        ``extra``, ``longshort``; and ``medrr`` (11-beat running median, s).

    Examples
    --------
    >>> import numpy as np
    >>> rr = 0.8 + 0.02 * np.sin(np.arange(60))
    >>> rr[30], rr[31] = 0.5, 1.1  # a premature beat and its compensatory pause
    >>> np.flatnonzero(ecg_fixpeaks(rr)["ectopic"]).tolist()
    [31]
    """
    rr = np.asarray(rr_s, dtype=np.float64)
    n = len(rr)
    out = {k: np.zeros(n, dtype=bool) for k in ("ectopic", "missed", "extra", "longshort")}
    out["medrr"] = rr.copy()
    if n < 4:
        return out
    medrr = pd.Series(rr).rolling(MEDFILT_BEATS, center=True, min_periods=1).median().to_numpy()
    drrs = np.diff(rr, prepend=np.nan)
    drrs[0] = np.mean(drrs[1:])
    th1 = _threshold(drrs, medrr)
    drrs = np.divide(drrs, th1, out=np.full(n, np.nan), where=th1 > 0)
    pad = np.pad(drrs, 2, mode="reflect")
    prev_, next1, next2 = pad[1:-3], pad[3:-1], pad[4:]
    s12 = np.where(drrs > 0, np.maximum(prev_, next1),
                   np.where(drrs < 0, np.minimum(prev_, next1), 0.0))
    s22 = np.where(drrs >= 0, np.minimum(next1, next2), np.maximum(next1, next2))
    mrrs = rr - medrr
    mrrs[mrrs < 0] *= 2.0
    th2 = _threshold(mrrs, medrr)
    mrrs = np.divide(mrrs, th2, out=np.full(n, np.nan), where=th2 > 0)
    out["medrr"] = medrr
    with np.errstate(invalid="ignore"):
        flagged = np.flatnonzero(np.abs(drrs[: n - 2]) > 1)
    for i in flagged:
        d = drrs[i]
        if (d > 1 and s12[i] < -C1 * d - C2) or (d < -1 and s12[i] > -C1 * d + C2):
            out["ectopic"][i] = True
            continue
        cands = [i]
        if abs(drrs[i + 1]) < abs(drrs[i + 2]):
            cands.append(i + 1)
        for j in cands:
            long_ = drrs[j] > 1 and s22[j] < -1
            short = drrs[j] < -1 and s22[j] > 1
            big = abs(mrrs[j]) > 3
            if not (long_ or short or big):
                continue
            if short and j + 1 < n and abs(rr[j] + rr[j + 1] - medrr[j]) < th2[j]:
                out["extra"][j] = True
            elif long_ and abs(rr[j] / 2 - medrr[j]) < th2[j]:
                out["missed"][j] = True
            else:
                out["longshort"][j] = True
    return out
