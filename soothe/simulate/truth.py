"""Ground truth per window, computed from the true series exactly as a pipeline would.

For every phase, windows of 60 s from the phase's window start (the induction: audio
onset, so window m is induction minute m), the last one partial when the phase is not a
whole number of minutes. A beat belongs to the window its R peak falls in (start <= t <
end), and contributes the RR interval ending at it.

- ``hr_bpm`` = 60000 / mean RR of the beats in the window;
- ``rmssd_ms`` = RMS of successive differences of RR of consecutive beats in the window,
  leaving out intervals adjacent to an ectopic beat;
- ``sdnn_ms`` = SD of the same valid intervals;
- ``hf_ms2`` / ``lnhf`` = power of the valid RR series (linearly interpolated at 4 Hz,
  linearly detrended, Hann-windowed periodogram) in 0.15-0.40 Hz (Task Force, 1996); NaN for
  windows shorter than 50 s. HF depends more on the method than HR or RMSSD do, so treat it
  as a reference value, not an exact target.
- ``scl_us`` = mean of the true tonic level over the window's samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from soothe.simulate.rr import BeatSeries, rmssd_valid_intervals
from soothe.simulate.timeline import SessionTimeline

WINDOW_S = 60.0
MIN_WINDOW_S = 1.0

TRUTH_WINDOW_COLUMNS = (
    "participant_id",
    "condition",
    "phase",
    "window",
    "start_s",
    "end_s",
    "hr_bpm",
    "rmssd_ms",
    "sdnn_ms",
    "hf_ms2",
    "lnhf",
    "scl_us",
    "n_beats",
    "n_ectopic",
)


def window_spans(timeline: SessionTimeline, window_s: float = WINDOW_S) -> list[tuple]:
    """(phase, window, start_s, end_s) for every window of every phase."""
    out = []
    for span in timeline.phases:
        start = span.window_start_s
        w = 1
        while span.window_end_s - start >= MIN_WINDOW_S:
            end = min(start + window_s, span.window_end_s)
            out.append((span.name, w, start, end))
            start += window_s
            w += 1
    return out


def truth_windows(
    participant_id: str,
    timeline: SessionTimeline,
    beats: BeatSeries,
    tonic_t: np.ndarray,
    tonic: np.ndarray,
    window_s: float = WINDOW_S,
) -> pd.DataFrame:
    """True per-window HR, RMSSD and SCL.

    Parameters
    ----------
    tonic_t, tonic : arrays
        Sample times (s) and the true tonic level (uS) on a regular grid.
    """
    valid = rmssd_valid_intervals(beats)
    rows = []
    for phase, w, start, end in window_spans(timeline, window_s):
        lo, hi = np.searchsorted(beats.times_s, [start, end])
        rr = beats.rr_ms[lo:hi]
        rr_ok = rr[np.isfinite(rr)]
        hr = 60000.0 / rr_ok.mean() if len(rr_ok) else np.nan
        v = valid[lo:hi]
        pair_ok = v[1:] & v[:-1]
        diffs = np.diff(rr)[pair_ok]
        rmssd = float(np.sqrt(np.mean(diffs**2))) if len(diffs) >= 2 else np.nan
        good_rr = rr[v]
        sdnn = float(np.std(good_rr, ddof=1)) if len(good_rr) >= 3 else np.nan
        hf = hf_power(beats.times_s[lo:hi][v], good_rr) if end - start >= 50.0 else np.nan
        a, b = np.searchsorted(tonic_t, [start, end])
        scl = float(tonic[a:b].mean()) if b > a else np.nan
        rows.append(
            (
                participant_id,
                timeline.condition,
                phase,
                w,
                round(start, 4),
                round(end, 4),
                hr,
                rmssd,
                sdnn,
                hf,
                float(np.log(hf)) if hf > 0 else np.nan,
                scl,
                int(hi - lo),
                int(beats.ectopic[lo:hi].sum()),
            )
        )
    return pd.DataFrame(rows, columns=list(TRUTH_WINDOW_COLUMNS))


def hf_power(times_s: np.ndarray, rr_ms: np.ndarray, resample_hz: float = 4.0) -> float:
    """HF power (ms^2, 0.15-0.40 Hz) of an RR series given at its beat times."""
    if len(rr_ms) < 20:
        return np.nan
    grid = np.arange(times_s[0], times_s[-1], 1.0 / resample_hz)
    series = np.interp(grid, times_s, rr_ms)
    from scipy.signal import detrend, periodogram

    freqs, psd = periodogram(detrend(series), fs=resample_hz, window="hann", scaling="density")
    band = (freqs >= 0.15) & (freqs <= 0.40)
    return float(np.trapezoid(psd[band], freqs[band])) if band.sum() >= 2 else np.nan


def truth_beats(beats: BeatSeries) -> pd.DataFrame:
    """The true beats: R-peak time, RR interval ending there, ectopic flag."""
    return pd.DataFrame(
        {
            "r_peak_s": np.round(beats.times_s, 6),
            "rr_ms": np.round(beats.rr_ms, 4),
            "ectopic": beats.ectopic.astype(bool),
        }
    )
