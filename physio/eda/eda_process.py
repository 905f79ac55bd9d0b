"""The EDA chain for one channel, and its per-window summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physio.eda.eda_clean import (
    DEFAULT_LOWPASS_HZ,
    DEFAULT_TARGET_RATE_HZ,
    LOWPASS_FILTER,
    eda_decimate,
    eda_lowpass,
    eda_to_microsiemens,
)
from physio.eda.eda_decompose import DEFAULT_DECOMPOSE_METHOD, eda_decompose
from physio.eda.eda_quality import (
    EDA_MAX_US,
    EDA_MIN_US,
    chunk_bounds,
    release_pages,
    scan_eda_loss,
)
from physio.eda.eda_scr import (
    DEFAULT_SCR_MIN_AMPLITUDE_US,
    SCR_MAX_RISE_S,
    SCR_MIN_RISE_S,
    SCR_SMOOTH_HZ,
    eda_scr,
)

#: A window with more than this fraction of lost signal gets NaN EDA values.
MAX_BAD_FRACTION = 0.2


@dataclass
class EdaResult:
    """Processed EDA of one channel, on the session clock.

    Attributes
    ----------
    sampling_rate : float
        Working rate of ``clean``/``tonic`` (Hz).
    start_s : float
        Session time of sample 0 of ``clean``.
    clean, tonic : numpy.ndarray
        Cleaned signal and tonic level (µS), NaN where the signal is lost.
    scr_onset_s, scr_peak_s, scr_amp_us : numpy.ndarray
        The detected SCRs (session clock).
    bad_segments_s : list of (start_s, end_s, reason)
        Signal loss on the session clock.
    info : dict
        Method and parameters.
    """

    sampling_rate: float
    start_s: float
    clean: np.ndarray
    tonic: np.ndarray
    scr_onset_s: np.ndarray
    scr_peak_s: np.ndarray
    scr_amp_us: np.ndarray
    bad_segments_s: list[tuple[float, float, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def times_s(self) -> np.ndarray:
        return self.start_s + np.arange(len(self.clean)) / self.sampling_rate


def eda_process(
    signal: np.ndarray,
    sampling_rate: float,
    *,
    units: str = "uS",
    start_s: float = 0.0,
    name: str = "EDA",
    target_rate: float = DEFAULT_TARGET_RATE_HZ,
    lowpass_hz: float = DEFAULT_LOWPASS_HZ,
    method: str = DEFAULT_DECOMPOSE_METHOD,
    scr_min_amplitude_us: float = DEFAULT_SCR_MIN_AMPLITUDE_US,
    min_us: float = EDA_MIN_US,
    max_us: float = EDA_MAX_US,
    convert: Callable[[np.ndarray], np.ndarray] | None = None,
    chunk_samples: int | None = None,
) -> EdaResult:
    """Convert, check, clean and decompose an EDA channel and detect its SCRs.

    The full-rate steps (unit conversion, signal-loss scan, decimation) run chunk by
    chunk when ``chunk_samples`` is given, with chunks aligned to the decimation blocks,
    so a 24-h recording (even a memory-mapped one) needs bounded memory and gives exactly
    the single-pass result. The rest runs at the 25 Hz working rate.

    Examples
    --------
    >>> fs = 100.0
    >>> t = np.arange(0, 120, 1 / fs)
    >>> bump = np.where(t > 30, (t - 30) * np.exp(-(t - 30) / 2.0), 0)
    >>> res = eda_process(5 + 0.3 * bump + 0.002 * np.sin(t), fs)
    >>> len(res.scr_peak_s), bool(abs(np.nanmean(res.tonic) - 5) < 0.02)
    (1, True)
    """
    if convert is None:
        def convert(x: np.ndarray) -> np.ndarray:
            return eda_to_microsiemens(x, units, name=name)

    q = max(1, int(round(sampling_rate / target_rate)))
    chunk = None if chunk_samples is None else max(q, int(chunk_samples) // q * q)
    found = scan_eda_loss(signal, convert=convert, chunk=chunk, sampling_rate=sampling_rate,
                          min_us=min_us, max_us=max_us)
    parts = []
    fs = float(sampling_rate)
    for a, b in chunk_bounds(len(signal), chunk):
        x = convert(np.array(signal[a:b], dtype=np.float64))
        release_pages(signal)
        for s, e, _ in found:
            if e > a and s < b:
                x[max(s, a) - a : min(e, b) - a] = np.nan
        dec, fs = eda_decimate(x, sampling_rate, target_rate)
        parts.append(dec)
    clean = eda_lowpass(np.concatenate(parts) if parts else np.zeros(0), fs, lowpass_hz)
    segments = [(s / sampling_rate, e / sampling_rate, r) for s, e, r in found]
    scr = eda_scr(clean, fs, amplitude_min=scr_min_amplitude_us)
    tonic, _ = eda_decompose(clean, fs, method=method, scr=scr)
    return EdaResult(
        sampling_rate=fs,
        start_s=float(start_s),
        clean=clean,
        tonic=tonic,
        scr_onset_s=start_s + scr["onset_idx"] / fs,
        scr_peak_s=start_s + scr["peak_idx"] / fs,
        scr_amp_us=scr["amp_us"],
        bad_segments_s=[(start_s + a, start_s + b, r) for a, b, r in segments],
        info={
            "input_units": units,
            "input_rate_hz": float(sampling_rate),
            "working_rate_hz": fs,
            "lowpass_hz": lowpass_hz,
            "lowpass_filter": LOWPASS_FILTER,
            "decompose_method": method,
            "scr_method": "trough-to-peak on the 1 Hz smoothed signal; the amplitude "
                          "criterion is measured on that same smoothed signal",
            "scr_min_amplitude_us": scr_min_amplitude_us,
            "scr_smooth_hz": SCR_SMOOTH_HZ,
            "scr_rise_s": [SCR_MIN_RISE_S, SCR_MAX_RISE_S],
            "valid_range_us": [min_us, max_us],
            "n_scr": int(len(scr["amp_us"])),
        },
    )


def eda_window_methods() -> dict[str, Any]:
    """The per-window EDA rules in force, for the JSON sidecar (read at call time).

    Examples
    --------
    >>> eda_window_methods()["max_bad_fraction"]
    0.2
    """
    return {
        "max_bad_fraction": MAX_BAD_FRACTION,
        "scl_us": "tonic skin conductance level: mean of the tonic (SCR-free) component "
                  "(uS) over the window's finite samples",
        "sc_mean_us": "mean raw skin conductance: mean of the unit-converted, low-passed "
                      "signal including SCRs (uS) over the window's finite samples, the "
                      "per-minute SCL of most studies; it exceeds scl_us by the SCRs' area",
        "scr_assignment": "an SCR belongs to the window holding its peak",
        "scr_amp": "mean amplitude of the window's SCRs (uS); NaN when there is none",
    }


def eda_window(
    eda: EdaResult, start_s: float, end_s: float, *, max_bad_fraction: float | None = None
) -> dict[str, Any]:
    """Per-window EDA metrics: SCL, mean SC, SCR count, rate and mean amplitude, validity.

    An SCR belongs to the window holding its peak. Values are NaN with a reason when the
    window is not covered by the recording or too much of it is signal loss.

    Examples
    --------
    >>> res = eda_process(np.full(6000, 4.0) + np.linspace(0, 0.001, 6000), 100.0)
    >>> w = eda_window(res, 0, 60)
    >>> round(w["scl_us"], 2), w["scr_count"], w["eda_valid"]
    (4.0, 0, True)
    """
    if max_bad_fraction is None:
        max_bad_fraction = MAX_BAD_FRACTION
    nan_out = {
        "scl_us": np.nan,
        "sc_mean_us": np.nan,
        "scr_count": np.nan,
        "scr_rate_per_min": np.nan,
        "scr_amp_us": np.nan,
        "eda_valid": False,
    }
    fs = eda.sampling_rate
    i0 = int(np.floor((start_s - eda.start_s) * fs))
    i1 = int(np.ceil((end_s - eda.start_s) * fs))
    n_expected = max(1, i1 - i0)
    seg = eda.tonic[max(0, i0) : max(0, min(len(eda.tonic), i1))]
    covered = len(seg) / n_expected
    if covered < 1 - max_bad_fraction:
        return {**nan_out, "eda_reason": f"recording covers {100 * covered:.0f}% of the window"}
    finite = np.isfinite(seg)
    lost = 1 - finite.sum() / n_expected
    if lost > max_bad_fraction:
        reasons = sorted(
            {r for a, b, r in eda.bad_segments_s if a < end_s and b > start_s}
        ) or ["nan"]
        return {**nan_out, "eda_reason": f"signal loss {100 * lost:.0f}% ({', '.join(reasons)})"}
    in_win = (eda.scr_peak_s >= start_s) & (eda.scr_peak_s < end_s)
    count = int(in_win.sum())
    minutes = (end_s - start_s) / 60.0
    raw = eda.clean[max(0, i0) : max(0, min(len(eda.clean), i1))]
    return {
        "scl_us": float(np.mean(seg[finite])),
        "sc_mean_us": float(np.nanmean(raw)) if np.isfinite(raw).any() else np.nan,
        "scr_count": count,
        "scr_rate_per_min": count / minutes if minutes > 0 else np.nan,
        "scr_amp_us": float(np.mean(eda.scr_amp_us[in_win])) if count else np.nan,
        "eda_valid": True,
        "eda_reason": "",
    }
