"""Quality of each channel over any span of the session clock, for the pipeline.

The quality indices themselves are defined once, in :mod:`physio.ecg.ecg_quality`,
:mod:`physio.eda.eda_artifacts` and :mod:`physio.rsp.rsp_quality`. This module prepares
what they need once per recording (the per-beat template correlations, the EDA artefact
intervals, the count-adv breaths of the belt, the two ECG-derived breathing routes) and
measures any span with them, whatever engine found the beats and breaths:

* :func:`ecg_quality_of` -> :class:`EcgQuality`: per-beat ``template_corr``, ``qrs_corr``,
  ``low_quality``; :meth:`EcgQuality.span` gives ``ecg_quality`` and a verdict, applied to a
  row of HR/HRV values by :func:`apply_ecg_verdict` (HR and HRV NaN with the reason).
* :func:`eda_artifacts_of` finds EDA artefacts (µS), :func:`bridge_converter` bridges
  them before the engine sees the signal, :func:`drop_scrs_near_artifacts` removes every
  SCR whose rise lies within 1 s of one, :func:`scr_rows` makes the ``desc-scr`` table.
* :func:`belt_quality_of` -> :class:`BeltQuality`: a belt window is valid only when the
  belt is not quiet, carries breathing-band power and two independent breath counters
  (count-adv and the engine's) agree; the rate reported is count-adv's, the counter that
  held best against talking and movement (see docs/quality.md).
* :func:`edr_quality_of` -> :class:`EdrQuality`: ECG-derived breathing is reported only
  where its RSA and QRS-amplitude routes agree, or else where one of them repeats itself
  one breath later.

Every rule and threshold is written into the windows sidecar by :func:`quality_methods`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import SCR_COLUMNS
from physio.ecg import BeatSeries
from physio.ecg.ecg_quality import (
    ecg_beat_quality,
    ecg_quality_input,
    ecg_quality_methods,
    ecg_window_quality,
)
from physio.eda import EdaResult
from physio.eda.eda_artifacts import (
    eda_artifact_methods,
    eda_artifacts,
    eda_bridge,
    eda_window_quality,
    scr_clear_of_artifacts,
    scr_table,
)
from physio.eda.eda_process import eda_process
from physio.errors import SignalQualityError
from physio.recording import Channel
from physio.rsp import BreathSeries, rsp_belt, rsp_window
from physio.rsp.ecg_rsp import ecg_rsp
from physio.rsp.rsp_quality import (
    REFERENCE_PERCENTILE,
    belt_trace,
    belt_window_verdict,
    breathing_band_share,
    count_adv,
    edr_window_verdict,
    rsp_quality_methods,
    trace_periodicity,
    window_rate,
)

#: The values of a window that an invalid ECG verdict sets to NaN (lnrmssd follows rmssd).
ECG_VALUE_KEYS = ("hr_bpm", "rmssd_ms", "sdnn_ms", "hf_ms2", "lnhf")
#: Columns the ECG quality adds to the beats table (conditions.bids.BEATS_COLUMNS).
BEAT_QUALITY_COLUMNS = ("template_corr", "qrs_corr", "low_quality")
#: Length (s) of the consecutive blocks whose trace SD sets a belt's reference depth.
BELT_REFERENCE_BLOCK_S = 60.0


@dataclass
class EcgQuality:
    """Per-beat ECG quality of one recording, the beats on the session clock."""

    #: R-peak times of the kept beats (session clock)
    peaks_s: np.ndarray
    #: :func:`physio.ecg.ecg_quality.ecg_beat_quality`, one row per kept beat
    beats: pd.DataFrame

    def span(self, start_s: float, end_s: float) -> dict[str, Any]:
        """``ecg_quality``, ``ecg_valid``, ``ecg_reason`` of ``[start_s, end_s)``."""
        return ecg_window_quality(self.peaks_s, self.beats, start_s, end_s)

    @property
    def uncertain(self) -> np.ndarray | None:
        """Per kept beat: its R-peak time is ambiguous (``timing_ambiguous``), for the
        ``uncertain`` argument of an engine's ``hrv_window``; None when not measured."""
        if "timing_ambiguous" not in self.beats:
            return None
        return self.beats["timing_ambiguous"].fillna(False).to_numpy(dtype=bool)


def ecg_quality_of(channel: Channel, beats: BeatSeries) -> EcgQuality:
    """Template correlation and low-quality flag of every kept beat, any engine's beats.

    The correlation does not depend on the amplitude scale, so the channel's samples are
    used in their own units.

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> p = np.arange(1, 59, 0.8)
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in p)
    >>> b = BeatSeries(p, np.r_[np.nan, np.diff(p) * 1000], np.zeros(len(p), bool))
    >>> q = ecg_quality_of(Channel("ECG", x, fs, "mV", "ecg", start_s=5.0), b)
    >>> bool(q.beats["low_quality"].any()), q.span(5.0, 65.0)["ecg_valid"]
    (False, True)
    >>> int(q.uncertain.sum())
    0
    """
    cleaned, fs = ecg_quality_input(channel.data, channel.sampling_rate)
    peaks = np.asarray(beats.peaks_s, dtype=float)
    table = ecg_beat_quality(cleaned, fs, peaks, getattr(beats, "beat_class", None))
    return EcgQuality(peaks + channel.start_s, table)


def apply_ecg_verdict(row: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
    """Put ``ecg_quality`` into ``row``; an invalid verdict makes HR and HRV NaN with its
    reason (a row already invalid keeps its first reason). ``row`` is changed in place.

    Examples
    --------
    >>> row = {"hr_bpm": 120.0, "rmssd_ms": 300.0, "ecg_valid": True, "ecg_reason": "",
    ...        "hf_valid": False, "hf_reason": "window < 120 s"}
    >>> v = {"ecg_quality": 0.3, "ecg_valid": False, "ecg_reason": "no heartbeat"}
    >>> out = apply_ecg_verdict(row, v)
    >>> out["hr_bpm"], out["ecg_valid"], out["ecg_reason"], out["ecg_quality"]
    (nan, False, 'no heartbeat', 0.3)
    """
    row["ecg_quality"] = verdict["ecg_quality"]
    if verdict["ecg_valid"]:
        return row
    for key in ECG_VALUE_KEYS:
        if key in row:
            row[key] = float("nan")
    if row.get("ecg_valid", True):
        row.update(ecg_valid=False, ecg_reason=verdict["ecg_reason"])
    if row.get("hf_valid", False) or not row.get("hf_reason"):
        row.update(hf_valid=False, hf_reason=verdict["ecg_reason"])
    return row


def beats_with_quality(table: pd.DataFrame, quality: EcgQuality | None) -> pd.DataFrame:
    """The beats table with :data:`BEAT_QUALITY_COLUMNS` (NaN/False for removed beats).

    The kept beats are the table's rows that are not ``removed``, in time order, as in
    :class:`EcgQuality`.
    """
    out = table.copy()
    out["template_corr"] = np.nan
    out["qrs_corr"] = np.nan
    out["low_quality"] = False
    if quality is None or not len(out):
        return out
    kept = (out["beat_class"] != "removed").to_numpy()
    if int(kept.sum()) != len(quality.beats):
        return out
    for col in BEAT_QUALITY_COLUMNS:
        out.loc[kept, col] = quality.beats[col].to_numpy()
    out["low_quality"] = out["low_quality"].astype(bool)
    if quality.uncertain is not None and quality.uncertain.any():
        out["reason"] = with_timing_reason(out["reason"], kept, quality)
    return out


def with_timing_reason(reason: pd.Series, kept: np.ndarray, quality: EcgQuality
                       ) -> pd.Series:
    """The beats' reasons with 'R-peak timing ambiguous (two QRS alignments X ms apart)'
    for every kept beat whose time is ambiguous (after its own reason, if any).

    Examples
    --------
    >>> q = EcgQuality(np.array([1.0, 2.0]), pd.DataFrame(
    ...     {"timing_ambiguous": [False, True], "timing_sep_ms": [np.nan, 64.0]}))
    >>> with_timing_reason(pd.Series(["", ""]), np.array([True, True]), q).tolist()
    ['', 'R-peak timing ambiguous (two QRS alignments 64 ms apart)']
    """
    out = reason.astype(object).copy()
    rows = np.flatnonzero(kept)[quality.uncertain]
    seps = quality.beats["timing_sep_ms"].to_numpy(dtype=float)[quality.uncertain]
    for row, sep in zip(rows, seps, strict=True):
        text = f"R-peak timing ambiguous (two QRS alignments {sep:.0f} ms apart)"
        old = str(out.iloc[row]) if isinstance(out.iloc[row], str) else ""
        out.iloc[row] = f"{old}; {text}" if old else text
    return out


def eda_artifacts_of(eda: Channel, microsiemens: Callable[[np.ndarray], np.ndarray]
                     ) -> list[tuple[float, float, str]]:
    """EDA artefact intervals (range, slope; padded) on the session clock.

    Examples
    --------
    >>> fs = 31.0
    >>> x = np.full(int(60 * fs), 5.0)
    >>> x[int(30 * fs):] += 3.0
    >>> ch = Channel("EDA", x, fs, "uS", "eda", start_s=10.0)
    >>> [(round(a), round(b), r) for a, b, r in eda_artifacts_of(ch, lambda d: d)]
    [(39, 41, 'slope')]
    """
    found = eda_artifacts(eda.data, eda.sampling_rate, convert=microsiemens)
    return [(a + eda.start_s, b + eda.start_s, r) for a, b, r in found]


def bridged_channel(eda: Channel, microsiemens: Callable[[np.ndarray], np.ndarray],
                    artifacts: list[tuple[float, float, str]]) -> Channel:
    """The channel in µS with each artefact bridged by a straight line (the channel as it
    is when there is none)."""
    if not artifacts:
        return eda
    local = [(a - eda.start_s, b - eda.start_s, r) for a, b, r in artifacts]
    us = microsiemens(eda.data)
    data = eda_bridge(us, eda.sampling_rate, local, copy=np.shares_memory(us, eda.data))
    return dataclasses.replace(eda, data=data, units="uS")


def drop_scrs_near_artifacts(result: EdaResult, artifacts: list[tuple[float, float, str]]
                             ) -> EdaResult:
    """The result without the SCRs whose rise lies within 1 s of an artefact."""
    if not artifacts or len(result.scr_onset_s) == 0:
        return result
    keep = scr_clear_of_artifacts(result.scr_onset_s, result.scr_peak_s, artifacts)
    return dataclasses.replace(result, scr_onset_s=result.scr_onset_s[keep],
                               scr_peak_s=result.scr_peak_s[keep],
                               scr_amp_us=result.scr_amp_us[keep])


def eda_span_quality(artifacts: list[tuple[float, float, str]], start_s: float,
                     end_s: float) -> dict[str, Any]:
    """``eda_quality`` (artefact-free share), ``eda_valid`` and ``eda_reason`` of a span."""
    return eda_window_quality(artifacts, start_s, end_s)


def scr_rows(result: EdaResult | None, windows: pd.DataFrame, ids: dict[str, str]
             ) -> pd.DataFrame:
    """The ``desc-scr`` table: one row per counted SCR, with the window holding its peak.

    An SCR belongs to the window holding its peak, as in the windows table's
    ``scr_count``; ``phase`` and ``window`` are ``n/a`` when no window holds it.

    Examples
    --------
    >>> w = pd.DataFrame({"phase": ["rest"], "window": [1], "start_s": [0.0],
    ...                   "end_s": [60.0]})
    >>> r = EdaResult(10.0, 0.0, np.zeros(3), np.zeros(3), np.array([10.0]),
    ...               np.array([12.5]), np.array([0.2]))
    >>> t = scr_rows(r, w, {"participant_id": "sub-1"})
    >>> list(t.columns)[:3], t[["window", "rise_time_s"]].values.tolist()
    (['participant_id', 'phase', 'window'], [[1, 2.5]])
    """
    if result is None:
        table = scr_table(np.zeros(0), np.zeros(0), np.zeros(0))
    else:
        table = scr_table(result.scr_onset_s, result.scr_peak_s, result.scr_amp_us)
    phase = np.full(len(table), "n/a", dtype=object)
    window = pd.array([pd.NA] * len(table), dtype="Int64")
    peaks = table["peak_s"].to_numpy(dtype=float)
    for w in windows.itertuples(index=False):
        sel = (peaks >= w.start_s) & (peaks < w.end_s)
        phase[sel] = w.phase
        window[sel] = int(w.window)
    table["window"] = window
    table.insert(0, "phase", phase)
    for key, value in ids.items():
        table[key] = value
    return table[[c for c in SCR_COLUMNS if c in table]]


@dataclass
class BeltQuality:
    """What a belt's quality needs, prepared once; :meth:`span` judges any span."""

    #: count-adv breath starts (troughs), session clock
    troughs_s: np.ndarray
    #: the band-passed belt trace, its rate and the session time of its first sample
    clean: np.ndarray
    clean_fs: float
    clean_start_s: float
    #: the raw belt channel
    raw: Channel
    #: the recording's loud trace SD (REFERENCE_PERCENTILE of its 60-s blocks)
    reference_sd: float
    #: breathing-band share of each raw sample range measured so far: a window is judged
    #: both when the pipeline decides whether ECG-derived breathing is needed and when its
    #: row is made
    band_shares: dict[tuple[int, int], float] = field(default_factory=dict, repr=False,
                                                      compare=False)

    def rate(self, start_s: float, end_s: float) -> float:
        """count-adv's breathing rate of ``[start_s, end_s)`` (breaths/min; NaN: too few
        breaths): the belt rate reported where the belt is valid."""
        return window_rate(self.troughs_s, start_s, end_s)

    def span(self, start_s: float, end_s: float, engine_bpm: float) -> tuple[float, str]:
        """Belt quality (0-1) and reason ('' when valid) of ``[start_s, end_s)``, judged
        against the engine's own breathing rate of that span (``engine_bpm``)."""
        ratio, share = self.evidence(start_s, end_s)
        return belt_window_verdict(engine_bpm, self.rate(start_s, end_s), ratio, share)

    def evidence(self, start_s: float, end_s: float) -> tuple[float, float]:
        """``(amplitude_ratio, band_share)`` of ``[start_s, end_s)``: the band-passed trace's
        SD against the recording's reference depth, and the raw belt's breathing-band
        share."""
        i0 = max(0, int((start_s - self.clean_start_s) * self.clean_fs))
        i1 = max(i0, int((end_s - self.clean_start_s) * self.clean_fs))
        seg = self.clean[i0:i1]
        sd = float(np.nanstd(seg)) if len(seg) else float("nan")
        ratio = sd / self.reference_sd if self.reference_sd > 0 else float("nan")
        fs = self.raw.sampling_rate
        j0 = max(0, int((start_s - self.raw.start_s) * fs))
        j1 = max(j0, int((end_s - self.raw.start_s) * fs))
        return ratio, self.band_share(j0, j1)

    def band_share(self, j0: int, j1: int) -> float:
        """Breathing-band share of the raw belt samples ``[j0, j1)``
        (:func:`physio.rsp.rsp_quality.breathing_band_share`), measured once per range."""
        if (j0, j1) not in self.band_shares:
            self.band_shares[j0, j1] = breathing_band_share(
                np.asarray(self.raw.data[j0:j1], dtype=float), self.raw.sampling_rate)
        return self.band_shares[j0, j1]


def belt_quality_of(rsp: Channel) -> BeltQuality:
    """count-adv breaths and the reference depth of a belt (see :class:`BeltQuality`).

    Examples
    --------
    >>> fs = 25.0
    >>> t = np.arange(0, 300, 1 / fs)
    >>> y = np.where(t < 180, np.sin(2 * np.pi * 0.25 * t), 0.0)
    >>> y = y + np.random.default_rng(0).normal(0, 0.01, len(t))
    >>> q = belt_quality_of(Channel("RSP", y, fs, "V", "rsp"))
    >>> q.span(60.0, 120.0, 15.0)[1], q.span(240.0, 300.0, 27.0)[1][:14]
    ('', 'belt is quiet:')
    """
    clean, fs, delay = belt_trace(rsp.data, rsp.sampling_rate)
    troughs = count_adv(clean, fs) + delay + rsp.start_s
    block = int(BELT_REFERENCE_BLOCK_S * fs)
    sds = np.array([np.nanstd(clean[i:i + block]) for i in range(0, len(clean), block)
                    if len(clean[i:i + block]) >= block // 2])
    finite = sds[np.isfinite(sds)]
    ref = float(np.percentile(finite, REFERENCE_PERCENTILE)) if len(finite) else float("nan")
    return BeltQuality(troughs, clean, fs, rsp.start_s + delay, rsp, ref)


@dataclass
class EdrQuality:
    """The two routes of ECG-derived breathing (RSA, QRS amplitude), session clock."""

    rsa: BreathSeries
    amplitude: BreathSeries

    def span(self, start_s: float, end_s: float) -> tuple[float, float, str]:
        """(rate, ``edr_quality``, reason) of ``[start_s, end_s)``
        (:func:`physio.rsp.rsp_quality.edr_window_verdict`)."""
        r = self.routes(start_s, end_s)
        return edr_window_verdict(r["edr_rsa_bpm"], r["edr_amplitude_bpm"],
                                  r["edr_rsa_periodicity"], r["edr_amplitude_periodicity"])

    def routes(self, start_s: float, end_s: float) -> dict[str, float]:
        """Each route's rate and periodicity in ``[start_s, end_s)``."""
        return {"edr_rsa_bpm": window_rate(self.rsa.onset_s, start_s, end_s),
                "edr_amplitude_bpm": window_rate(self.amplitude.onset_s, start_s, end_s),
                "edr_rsa_periodicity": trace_periodicity(self.rsa, start_s, end_s),
                "edr_amplitude_periodicity": trace_periodicity(self.amplitude, start_s,
                                                               end_s)}


def edr_quality_of(beats: BeatSeries, ecg: Channel) -> EdrQuality:
    """Both ECG-derived breathing routes from any engine's beats.

    Raises
    ------
    physio.errors.SignalQualityError
        Too few beats for either route.
    """
    routes = {m: ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected, ecg=ecg.data,
                         sampling_rate=ecg.sampling_rate, method=m, start_s=ecg.start_s)
              for m in ("rsa", "amplitude")}
    return EdrQuality(routes["rsa"], routes["amplitude"])


def fixed_spans(start_s: float, duration_s: float, window_s: float = 60.0
                ) -> list[tuple[float, float]]:
    """Consecutive windows of ``window_s`` from ``start_s``; a last window shorter than
    half of it is dropped.

    Examples
    --------
    >>> fixed_spans(10.0, 140.0)
    [(10.0, 70.0), (70.0, 130.0)]
    >>> fixed_spans(0.0, 150.0, 100.0)
    [(0.0, 100.0), (100.0, 150.0)]
    """
    end = start_s + duration_s
    spans = [(float(a), float(min(a + window_s, end)))
             for a in np.arange(start_s, end, window_s)]
    return [(a, b) for a, b in spans if b - a >= window_s / 2]


def ecg_quality_table(channel: Channel, beats: BeatSeries, *, window_s: float = 60.0
                      ) -> pd.DataFrame:
    """The pipeline's ECG verdict (:func:`ecg_quality_of`) of fixed windows of a channel.

    Returns
    -------
    pandas.DataFrame
        ``start_s``, ``end_s`` (session clock), ``n_beats`` and the columns of
        :func:`physio.ecg.ecg_quality.ecg_window_quality`.

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(120 * fs)) / fs
    >>> p = np.arange(0.5, 119.5, 0.8)
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in p)
    >>> b = BeatSeries(p, np.r_[np.nan, np.diff(p) * 1000], np.zeros(len(p), bool))
    >>> ecg_quality_table(Channel("ECG", x, fs, "mV", "ecg"), b)["ecg_valid"].tolist()
    [True, True]
    """
    q = ecg_quality_of(channel, beats)
    rows = []
    for a, b in fixed_spans(channel.start_s, len(channel.data) / channel.sampling_rate,
                            window_s):
        n = int(((q.peaks_s >= a) & (q.peaks_s < b)).sum())
        rows.append({"start_s": a, "end_s": b, "n_beats": n, **q.span(a, b)})
    return pd.DataFrame(rows)


def belt_quality_table(rsp: Channel, *, window_s: float = 60.0) -> pd.DataFrame:
    """The pipeline's belt verdict (:func:`belt_quality_of`, judged against the default
    engine's breaths, :func:`physio.rsp.rsp_belt` and :func:`physio.rsp.rsp_window`) of
    fixed windows of a belt.

    Returns
    -------
    pandas.DataFrame
        ``start_s``, ``end_s``, ``resp_rate_bpm`` (count-adv's; NaN unless valid),
        ``count_adv_bpm``, ``soothe_bpm`` (the engine's), ``belt_amplitude_ratio``,
        ``belt_band_share``, ``belt_quality``, ``belt_valid``, ``belt_reason``.

    Examples
    --------
    >>> fs = 25.0
    >>> t = np.arange(0, 300, 1 / fs)
    >>> y = np.where(t < 180, np.sin(2 * np.pi * 0.25 * t), 0.0)
    >>> y = y + np.random.default_rng(0).normal(0, 0.01, len(t))
    >>> belt_quality_table(Channel("RSP", y, fs, "V", "rsp"))["belt_valid"].tolist()
    [True, True, True, False, False]
    """
    q = belt_quality_of(rsp)
    try:
        breaths = rsp_belt(rsp.data, rsp.sampling_rate, units=rsp.units, name=rsp.name,
                           start_s=rsp.start_s)
    except SignalQualityError:
        breaths = None
    rows = []
    for a, b in fixed_spans(rsp.start_s, len(rsp.data) / rsp.sampling_rate, window_s):
        engine_bpm = rsp_window(breaths, a, b)["resp_rate_bpm"]
        ratio, share = q.evidence(a, b)
        quality, reason = q.span(a, b, engine_bpm)
        rows.append({"start_s": a, "end_s": b,
                     "resp_rate_bpm": q.rate(a, b) if reason == "" else float("nan"),
                     "count_adv_bpm": q.rate(a, b), "soothe_bpm": engine_bpm,
                     "belt_amplitude_ratio": ratio, "belt_band_share": share,
                     "belt_quality": quality, "belt_valid": reason == "",
                     "belt_reason": reason})
    return pd.DataFrame(rows)


def edr_quality_table(beats: BeatSeries, ecg: Channel, *, window_s: float = 60.0
                      ) -> pd.DataFrame:
    """The pipeline's ECG-derived breathing verdict (:func:`edr_quality_of`) of fixed
    windows of an ECG channel.

    Returns
    -------
    pandas.DataFrame
        ``start_s``, ``end_s``, ``edr_rate_bpm`` (NaN unless valid), each route's rate and
        periodicity (:meth:`EdrQuality.routes`), ``edr_quality``, ``edr_valid``,
        ``edr_reason``.
    """
    q = edr_quality_of(beats, ecg)
    rows = []
    for a, b in fixed_spans(ecg.start_s, len(ecg.data) / ecg.sampling_rate, window_s):
        rate, quality, reason = q.span(a, b)
        rows.append({"start_s": a, "end_s": b, "edr_rate_bpm": rate, **q.routes(a, b),
                     "edr_quality": quality, "edr_valid": reason == "",
                     "edr_reason": reason})
    return pd.DataFrame(rows)


def eda_bridged_process(eda: Channel, **kwargs: Any
                        ) -> tuple[EdaResult, list[tuple[float, float, str]], pd.DataFrame]:
    """The pipeline's EDA chain with the default engine: artefacts found
    (:func:`eda_artifacts_of`), bridged (:func:`bridged_channel`), processed
    (:func:`physio.eda.eda_process.eda_process`), SCRs near an artefact dropped
    (:func:`drop_scrs_near_artifacts`).

    Parameters
    ----------
    eda : Channel
        Skin conductance in µS.
    **kwargs
        Passed to :func:`physio.eda.eda_process.eda_process`.

    Returns
    -------
    (EdaResult, artifacts, scr_table)
        The result (its SCRs are the ones that count), the artefact intervals (session
        clock) and the ``desc-scr`` table of those SCRs (:func:`physio.eda.eda_artifacts.
        scr_table`).

    Examples
    --------
    >>> fs = 100.0
    >>> t = np.arange(0, 120, 1 / fs)
    >>> bump = np.where(t > 30, (t - 30) * np.exp(-(t - 30) / 2.0), 0)
    >>> x = 5 + 0.3 * bump + 0.002 * np.sin(t)
    >>> x[int(80 * fs):] += 4.0  # electrode step
    >>> res, bad, table = eda_bridged_process(Channel("EDA", x, fs, "uS", "eda"))
    >>> len(bad), len(table), round(float(table["onset_s"].iloc[0]))
    (1, 1, 30)
    """
    artifacts = eda_artifacts_of(eda, np.asarray)
    ch = bridged_channel(eda, np.asarray, artifacts)
    result = eda_process(np.asarray(ch.data, dtype=float), ch.sampling_rate, units="uS",
                         start_s=eda.start_s, **kwargs)
    result = drop_scrs_near_artifacts(result, artifacts)
    table = scr_table(result.scr_onset_s, result.scr_peak_s, result.scr_amp_us)
    return result, artifacts, table


def quality_methods(artifacts: list[tuple[float, float, str]] | None = None
                    ) -> dict[str, Any]:
    """Every quality rule and threshold in force, with its references, for the sidecar.

    Examples
    --------
    >>> sorted(quality_methods())
    ['ecg_quality', 'eda_artifacts', 'rsp_quality']
    """
    eda = eda_artifact_methods()
    eda["artifacts_s"] = [[round(a, 3), round(b, 3), r] for a, b, r in (artifacts or [])]
    return {"ecg_quality": ecg_quality_methods(), "eda_artifacts": eda,
            "rsp_quality": rsp_quality_methods()}
