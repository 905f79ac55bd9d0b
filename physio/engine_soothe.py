"""The default engine: soothe's own ECG, HRV, EDA and respiration methods.

Each stage of :class:`physio.engine.Engine` is one call into soothe's signal packages:
:func:`physio.ecg.ecg_beats` (chunk by chunk on a long ECG, :func:`ecg_beats_chunked`),
:func:`physio.hrv.hrv_window`, :func:`physio.eda.eda_process`, :func:`physio.rsp.rsp_belt`
and :func:`physio.rsp.ecg_rsp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from physio.ecg import BeatSeries, ecg_beats
from physio.eda import EdaResult, eda_process
from physio.eda.eda_decompose import DEFAULT_DECOMPOSE_METHOD
from physio.eda.eda_quality import release_pages
from physio.eda.eda_scr import DEFAULT_SCR_MIN_AMPLITUDE_US
from physio.hrv import hrv_window
from physio.recording import Channel
from physio.rsp import BreathSeries, ecg_rsp, rsp_belt
from physio.rsp.ecg_rsp import DEFAULT_EDR_METHOD

#: Recordings longer than this are processed in chunks of ``chunk_s`` (bounded memory).
CHUNK_ABOVE_S = 3600.0
#: Chunk length for long recordings: the work arrays of the ECG stage grow with the
#: length processed at once, so a chunk bounds them whatever the recording length.
DEFAULT_CHUNK_S = 1800.0
#: ECG context on each side of a chunk: the QRS detector's thresholds settle within a few
#: seconds and Lipponen-Tarvainen correction looks at +-45 beats, so beats kept from the
#: chunk core are those an unchunked run finds.
CHUNK_OVERLAP_S = 120.0
#: EDA of any length is converted and decimated in blocks of this many seconds (memory).
EDA_BLOCK_S = 300.0


def ecg_beats_chunked(
    signal: np.ndarray,
    sampling_rate: float,
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    overlap_s: float = CHUNK_OVERLAP_S,
    convert: Callable[[np.ndarray], np.ndarray] | None = None,
) -> BeatSeries:
    """``physio.ecg.ecg_beats`` on a long ECG, chunk by chunk with overlapping context.

    Each chunk is processed with ``overlap_s`` of signal on either side; only the beats in
    its core are kept, with the RR intervals and correction flags computed with that
    context. Memory is bounded by the chunk length, whatever the recording length.

    Examples
    --------
    >>> import numpy as np
    >>> from physio.ecg import ecg_beats
    >>> fs = 250.0
    >>> t = np.arange(0, 600, 1 / fs)
    >>> ecg = np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4)
    >>> a = ecg_beats(ecg, fs)
    >>> b = ecg_beats_chunked(ecg, fs, chunk_s=200, overlap_s=30)
    >>> len(a.peaks_s) == len(b.peaks_s), bool(np.allclose(a.peaks_s, b.peaks_s))
    (True, True)
    """
    fs = float(sampling_rate)
    n = len(signal)
    core = max(1, int(chunk_s * fs))
    ctx = int(overlap_s * fs)
    peaks, rrs, flags, bad, parts = [], [], [], [], []
    info: dict[str, Any] = {}
    for a in range(0, n, core):
        b = min(n, a + core)
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        seg = np.array(signal[lo:hi], dtype=np.float64)
        release_pages(signal)
        if convert is not None:
            seg = convert(seg)
        beats = ecg_beats(seg, fs)
        t = np.asarray(beats.peaks_s) + lo / fs
        keep = (t >= a / fs) & (t < b / fs)
        peaks.append(t[keep])
        rrs.append(np.asarray(beats.rr_ms)[keep])
        flags.append(np.asarray(beats.corrected, dtype=bool)[keep])
        parts.append(beats.subset(keep, lo / fs, (a / fs, b / fs)))
        _add_bad_segments(bad, beats.bad_segments_s, lo / fs, (a / fs, b / fs))
        info = info or dict(beats.info)
        del seg, beats
    peaks_s = np.concatenate(peaks) if peaks else np.zeros(0)
    corrected = np.concatenate(flags) if flags else np.zeros(0, bool)
    info.update(chunked={"chunk_s": chunk_s, "overlap_s": overlap_s,
                         "n_chunks": int(np.ceil(n / core))},
                n_corrected=int(corrected.sum()))
    return BeatSeries(peaks_s=peaks_s, rr_ms=np.concatenate(rrs) if rrs else np.zeros(0),
                      corrected=corrected, bad_segments_s=bad, info=info,
                      **BeatSeries.join_labels(parts))


def _add_bad_segments(bad: list, found: list, offset_s: float,
                      core_s: tuple[float, float]) -> None:
    """Append a chunk's bad segments, cut to its core, joining one that continues the last."""
    for s, e in found:
        s, e = max(s + offset_s, core_s[0]), min(e + offset_s, core_s[1])
        if e > s:
            if bad and abs(bad[-1][1] - s) < 1e-9:
                bad[-1] = (bad[-1][0], e)
            else:
                bad.append((s, e))


@dataclass(frozen=True)
class SootheEngine:
    """soothe's own methods, one per stage of :class:`physio.engine.Engine`.

    Parameters
    ----------
    chunk_s, chunk_above_s : float
        An ECG longer than ``chunk_above_s`` is processed in chunks of ``chunk_s``
        (:func:`ecg_beats_chunked`); an EDA longer than ``chunk_above_s`` is converted in
        blocks of ``chunk_s``, a shorter one in blocks of :data:`EDA_BLOCK_S`. The blocks
        hold whole decimation blocks, so the result is the one of the whole signal at once.
    eda_method : str
        Tonic/phasic decomposition (:func:`physio.eda.eda_decompose`).
    scr_min_amplitude_us : float
        SCR amplitude criterion.
    edr_method : str
        ECG-derived breathing method (:func:`physio.rsp.ecg_rsp`).

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(0, 120, 1 / fs)
    >>> ecg = Channel("ECG", np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4), fs, "mV", "ecg")
    >>> beats = SootheEngine().ecg_beats(ecg, lambda x, copy=True: x)
    >>> round(SootheEngine().hrv_window(beats, 0.0, 60.0)["hr_bpm"])
    75
    """

    name = "soothe"

    chunk_s: float = DEFAULT_CHUNK_S
    chunk_above_s: float = CHUNK_ABOVE_S
    eda_method: str = DEFAULT_DECOMPOSE_METHOD
    scr_min_amplitude_us: float = DEFAULT_SCR_MIN_AMPLITUDE_US
    edr_method: str = DEFAULT_EDR_METHOD

    def ecg_beats(self, ecg: Channel, millivolts: Callable[..., np.ndarray]) -> BeatSeries:
        """:func:`physio.ecg.ecg_beats`, chunked above ``chunk_above_s``."""
        if ecg.duration_s <= self.chunk_above_s:
            # ecg_beats only reads its input: an ECG already in mV is not copied
            return ecg_beats(millivolts(ecg.data, copy=False), ecg.sampling_rate)
        return ecg_beats_chunked(ecg.data, ecg.sampling_rate, convert=millivolts,
                                 chunk_s=self.chunk_s)

    def hrv_window(self, beats: BeatSeries, start_s: float, end_s: float, *,
                   uncertain: np.ndarray | None = None) -> dict[str, Any]:
        """:func:`physio.hrv.hrv_window`."""
        return hrv_window(beats, start_s, end_s, uncertain=uncertain)

    def eda_process(self, eda: Channel, microsiemens: Callable[..., np.ndarray]) -> EdaResult:
        """:func:`physio.eda.eda_process`, converted and decimated block by block."""
        # the blocks bound memory: no full-rate copies of a long signal are held at once
        block_s = self.chunk_s if eda.duration_s > self.chunk_above_s else EDA_BLOCK_S
        return eda_process(
            eda.data,
            eda.sampling_rate,
            units=eda.units,
            start_s=eda.start_s,
            name=eda.name,
            method=self.eda_method,
            scr_min_amplitude_us=self.scr_min_amplitude_us,
            convert=microsiemens,
            chunk_samples=int(block_s * eda.sampling_rate),
        )

    def rsp_belt(self, rsp: Channel, *, source: str) -> BreathSeries:
        """:func:`physio.rsp.rsp_belt`."""
        return rsp_belt(rsp.data, rsp.sampling_rate, units=rsp.units, name=rsp.name,
                        start_s=rsp.start_s, source=source)

    def ecg_breathing(self, beats: BeatSeries, ecg: Channel) -> BreathSeries:
        """:func:`physio.rsp.ecg_rsp` with ``edr_method``."""
        return ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected, ecg=ecg.data,
                       sampling_rate=ecg.sampling_rate, method=self.edr_method,
                       start_s=ecg.start_s)
