"""Unusable ECG: the only stretches that remove beats or break the RR series.

A stretch is unusable only when no heartbeat *could* be seen in it:

* ``missing`` -- NaN samples (the recorder lost the signal);
* ``flat`` -- the **raw** signal does not vary (a disconnected lead, a zero-filled gap):
  every 0.2-s block's peak-to-peak range is below :data:`FLAT_FRACTION` of the recording's
  typical 2-s range for at least :data:`MIN_FLAT_S`;
* ``clipped`` -- a flat stretch at the recording's extreme value (amplifier saturation);
* ``no QRS`` -- the raw signal moves but its QRS band (5-20 Hz) holds no energy at all (the
  same block test on the QRS band) for longer than :data:`NO_QRS_MIN_S`.

A sinus pause, an AV block or any long RR interval is rhythm, not an artefact: the baseline
between two beats always carries the amplifier's and the body's noise, so its raw range is
never near zero, while a disconnected lead varies by a few converter codes.
:data:`FLAT_FRACTION` sits between the two with a wide margin either side
(``bench/bench_ecg_accuracy.py`` prints it; ``docs/ecg-hrv.md``, section 8, quotes it).

Unusable samples are bridged by a straight line before filtering, so the jump into or out of
a dead stretch cannot ring through the QRS filter and look like a beat; therefore no padding
is needed and the beats that border a stretch are kept.
"""

from __future__ import annotations

import numpy as np

from physio.signal_runs import true_runs

#: Block over which the raw range is measured (s): shorter than a QRS-free diastole.
BLOCK_S = 0.2
#: A block is flat when its range is below this fraction of the typical 2-s range.
FLAT_FRACTION = 0.005
#: Span over which the typical range is measured (s): always holds one QRS at >= 30 bpm.
REFERENCE_S = 2.0
#: Shortest flat stretch (s): a few blocks in a row.
MIN_FLAT_S = 1.0
#: Shortest stretch without QRS-band energy that counts as signal loss (s); equal to the
#: longest beat-to-beat interval still treated as rhythm (``physio.ecg.ecg_beats.MAX_GAP_S``).
NO_QRS_MIN_S = 5.0


def _block_range(x: np.ndarray, b: int) -> np.ndarray:
    n = len(x) // b
    if n == 0:
        return np.zeros(0)
    blk = x[: n * b].reshape(n, b)
    rng = blk.max(axis=1) - blk.min(axis=1)
    if len(x) > n * b:  # the tail block
        tail = x[n * b:]
        rng = np.r_[rng, tail.max() - tail.min()]
    return rng


def typical_range(x: np.ndarray, fs: float) -> float:
    """Median peak-to-peak range of ``x`` over consecutive 2-s blocks (finite samples only)."""
    b = max(int(round(REFERENCE_S * fs)), 1)
    r = _block_range(x, b)
    return float(np.median(r)) if len(r) else 0.0


def quiet_runs(x: np.ndarray, fs: float, fraction: float, min_s: float,
               ref: float | None = None) -> list[tuple[int, int]]:
    """Sample ranges ``[a, b)`` where every 0.2-s block of ``x`` varies by less than
    ``fraction`` of the typical range ``ref`` (default :func:`typical_range`), for at least
    ``min_s`` seconds."""
    b = max(int(round(BLOCK_S * fs)), 1)
    rng = _block_range(x, b)
    if len(rng) == 0:
        return []
    ref = typical_range(x, fs) if ref is None else ref
    quiet = rng <= fraction * ref
    out = []
    for a, e in true_runs(quiet):
        lo, hi = a * b, min(e * b, len(x))
        if hi - lo >= min_s * fs:
            out.append((int(lo), int(hi)))
    return out


def ecg_unusable(raw: np.ndarray, fs: float,
                 nan_mask: np.ndarray | None = None) -> list[tuple[int, int, str]]:
    """Missing, flat and clipped stretches of a raw ECG, as sample ranges.

    Parameters
    ----------
    raw : numpy.ndarray
        The raw ECG at its own rate (NaN allowed where ``nan_mask`` is True).
    fs : float
        Its rate (Hz).
    nan_mask : numpy.ndarray, optional
        True where the input was missing.

    Returns
    -------
    list of (start, stop, kind)
        Sample ranges ``[start, stop)``; ``kind`` is ``"missing"``, ``"flat"`` or ``"clipped"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.sin(np.arange(25000) * 0.3) + rng.normal(0, 0.01, 25000)
    >>> x[10000:15000] = 0.0
    >>> ecg_unusable(x, 250.0)
    [(10000, 15000, 'flat')]
    >>> x[10000:15000] = x.max()  # stuck at the top of the range
    >>> ecg_unusable(x, 250.0)
    [(10000, 15000, 'clipped')]
    """
    x = np.asarray(raw, dtype=np.float64)
    out: list[tuple[int, int, str]] = []
    if len(x) == 0:
        return out
    if nan_mask is not None and nan_mask.any():
        out += [(int(a), int(b), "missing") for a, b in true_runs(nan_mask)]
        x = x.copy()
        x[nan_mask] = np.interp(np.flatnonzero(nan_mask), np.flatnonzero(~nan_mask),
                                x[~nan_mask])
    ref = typical_range(x, fs)
    top, bottom = float(x.max()), float(x.min())
    eps = 1e-9 * max(top - bottom, 1e-300)
    for a, b in quiet_runs(x, fs, FLAT_FRACTION, MIN_FLAT_S, ref):
        # extend to the exact edges of the constant stretch (blocks are 0.2 s coarse)
        lvl = float(np.median(x[a:b]))
        tol = max(FLAT_FRACTION * ref, eps)
        while a > 0 and abs(x[a - 1] - lvl) <= tol:
            a -= 1
        while b < len(x) and abs(x[b] - lvl) <= tol:
            b += 1
        at_rail = abs(lvl - top) <= eps or abs(lvl - bottom) <= eps
        out.append((int(a), int(b), "clipped" if at_rail and top > bottom else "flat"))
    if nan_mask is not None:
        # a flat run made of filled NaNs is "missing", already listed
        out = [s for s in out if s[2] == "missing" or not nan_mask[s[0]:s[1]].all()]
    return sorted(out)


def ecg_no_qrs(qrs_band: np.ndarray, fs: float,
               ref: float | None = None) -> list[tuple[int, int]]:
    """Sample ranges of the QRS-band signal with no QRS energy for >= :data:`NO_QRS_MIN_S`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(25000) * 0.5); x[5000:7500] = 0.0
    >>> ecg_no_qrs(x, 250.0)
    [(5000, 7500)]
    """
    return quiet_runs(qrs_band, fs, FLAT_FRACTION, NO_QRS_MIN_S, ref)


def merge_segments(segs: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Merge overlapping segments (kinds joined with '+').

    Examples
    --------
    >>> merge_segments([(5.0, 9.0, "flat"), (1.0, 2.0, "missing"), (8.0, 12.0, "missing")])
    [(1.0, 2.0, 'missing'), (5.0, 12.0, 'flat+missing')]
    """
    segs = sorted(segs)
    merged: list[tuple[float, float, str]] = []
    for a, b, k in segs:
        if merged and a <= merged[-1][1]:
            pa, pb, pk = merged[-1]
            kinds = pk if k in pk.split("+") else f"{pk}+{k}"
            merged[-1] = (pa, max(pb, b), kinds)
        else:
            merged.append((a, b, k))
    return merged


def ecg_bad_segments(raw: np.ndarray, fs: float,
                     nan_mask: np.ndarray | None = None) -> list[tuple[float, float, str]]:
    """Unusable stretches of a raw ECG in seconds (see :func:`ecg_unusable`).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(25000) * 0.3) + np.random.default_rng(1).normal(0, 0.01, 25000)
    >>> x[10000:15000] = 0.0
    >>> ecg_bad_segments(x, 250.0)
    [(40.0, 60.0, 'flat')]
    """
    return merge_segments([(a / fs, b / fs, k) for a, b, k in ecg_unusable(raw, fs, nan_mask)])
