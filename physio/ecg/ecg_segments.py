"""Unusable ECG stretches: NaN runs, flat lines (disconnected lead, rail, zero-filled gaps) and
sustained overload noise. No beat is reported inside them and the RR series is broken there."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

#: The QRS-band envelope is the running maximum of |QRS band| over this span: long enough to
#: always hold one QRS complex (a heart rate of 30 bpm or more).
ENVELOPE_S = 2.0
#: A stretch is flat when its envelope is below this fraction of the recording's median.
FLAT_FRACTION = 0.05
#: ... and overloaded (saturation, electrode pops, motion) when above this multiple.
NOISE_MULTIPLE = 20.0
#: Bad stretches are widened by this much on each side: the jump into or out of a flat line
#: rings through the QRS filter and looks like a beat.
EDGE_PAD_S = 0.5
#: Shorter bad stretches are ignored: a flat line shorter than the envelope span is just the
#: quiet diastole between two slow beats (e.g. before the first beat of a file).
MIN_BAD_S = ENVELOPE_S


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    if not mask.any():
        return []
    d = np.diff(mask.astype(np.int8), prepend=0, append=0)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def ecg_bad_segments(qrs_band: np.ndarray, fs: float,
                     nan_mask: np.ndarray | None = None) -> list[tuple[float, float, str]]:
    """Find flat, missing or overloaded stretches of an ECG.

    Parameters
    ----------
    qrs_band : numpy.ndarray
        QRS-band signal at rate ``fs`` (see :func:`physio.ecg.ecg_clean.ecg_detection_signal`).
    fs : float
        Its rate.
    nan_mask : numpy.ndarray, optional
        True where the input was missing, at the same rate.

    Returns
    -------
    list of (start_s, end_s, kind)
        ``kind`` is ``"missing"``, ``"flat"`` or ``"noise"``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(25000) * 0.3); x[10000:15000] = 0.0
    >>> [(round(a, 1), round(b, 1), k) for a, b, k in ecg_bad_segments(x, 250.0)]
    [(39.5, 60.5, 'flat')]
    """
    n = len(qrs_band)
    if n == 0:
        return []
    w = max(int(round(ENVELOPE_S * fs)), 1)
    env = maximum_filter1d(np.abs(qrs_band), w, mode="nearest")
    ok = ~nan_mask if nan_mask is not None else np.ones(n, bool)
    ref = float(np.median(env[ok])) if ok.any() else 0.0
    out: list[tuple[float, float, str]] = []
    masks = []
    if nan_mask is not None:
        masks.append(("missing", nan_mask))
    # grow the envelope test back by the envelope span, so a flat run is found edge to edge
    flat = maximum_filter1d((env <= FLAT_FRACTION * ref).astype(np.uint8), w, mode="nearest") > 0
    flat &= np.abs(qrs_band) <= FLAT_FRACTION * ref
    masks.append(("flat", flat))
    noise = np.abs(qrs_band) > NOISE_MULTIPLE * ref
    noise = maximum_filter1d(noise.astype(np.uint8), w, mode="nearest") > 0
    masks.append(("noise", noise))
    min_len = MIN_BAD_S * fs
    for kind, m in masks:
        for a, b in _runs(m):
            if b - a >= min_len:
                lo, hi = float(a / fs) - EDGE_PAD_S, float(b / fs) + EDGE_PAD_S
                out.append((max(lo, 0.0), min(hi, n / fs),
                            kind))
    return merge_segments(out)


def merge_segments(segs: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Merge overlapping segments (kinds joined with '+')."""
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
