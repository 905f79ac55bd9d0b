"""Per-channel verdicts of the signal check: signal in, verdict out (pure, no I/O).

Each ``judge_*`` function takes the last few seconds of one channel and returns a
:class:`Verdict`: ``good``, ``check electrodes`` or ``no signal`` (``waiting`` while there
are fewer than :data:`MIN_SECONDS` of samples), with the reason in plain words for the
experimenter.

**One definition.** Where the check asks whether the signal carries physiology, it asks
the pipeline's own quality functions, so a channel the check calls good is one that
``soothe physio process`` will not throw away for the same reason: the ECG's beat-shape
quality (:mod:`physio.ecg.ecg_quality`), the EDA artefact rules
(:mod:`physio.eda.eda_artifacts`) and the belt quality (:mod:`physio.rsp.rsp_quality`),
with their thresholds read at call time. The check's own rules cover what only a live
check can say (flat line, mains hum, inverted lead, saturated amplifier, the deep-breath
test). The pipeline judges 60-s windows; the check judges the few seconds it has as one
window (see each step for how).

The rules, in the order they are tried, and why each constant is what it is:

ECG (mV)
    1. **flat line** (no signal): the 0.5-99.5 % range is below :data:`ECG_FLAT_MV`. A
       limb-lead R wave is 0.5-2.5 mV, so 0.05 mV is ten times below the smallest one.
    2. **mains hum** (check electrodes): the 50/60 Hz amplitude exceeds
       :data:`MAINS_RATIO` x the ECG's own range once the hum is notched out. Pick-up that
       large means a high-impedance electrode or a loose reference lead; the R peak can then
       no longer be placed to the millisecond.
    3. **no heartbeat found** (check electrodes): fewer than 2 beats found by the pipeline's
       own QRS detector (:func:`physio.ecg.ecg_peaks.detect_qrs`).
    4. **implausible rate** (check electrodes): the median-RR heart rate is outside the
       pipeline's :data:`physio.ecg.ecg_quality.HR_RANGE_BPM` (40-180 bpm, Orphanidou et
       al. 2015), e.g. "HR 240: noise, not beats".
    5. **no heartbeat** (check electrodes): the detected beats do not look like heartbeats
       by the pipeline's template rule (:func:`ecg_beats_verdict`): a lead with drift, hum
       or movement and no heart gives 'beats' that do not share a shape. Until the segment
       holds enough whole beats for a template, the channel is ``waiting``.
    6. **inverted** (check electrodes): the dominant QRS deflection is negative
       (:func:`physio.ecg.ecg_polarity.ecg_polarity`), unless the experimenter ticked
       "inverted" for this lead placement.
EDA (µS)
    1. **electrode off** (no signal): median below :data:`EDA_OFF_US` (an open circuit; skin
       conductance at rest is rarely below 0.5 µS).
    2. **saturated** (check electrodes): the signal sits on its maximum for at least
       :data:`CLIP_RUN_S` (a real EDA never repeats one value that long, an amplifier at its
       rail does), or above the amplifier's stated maximum.
    3. **flat line** (no signal): standard deviation below :data:`EDA_FLAT_US`.
    4. **artefact** (check electrodes): the pipeline's range and slope rules
       (:func:`eda_artifact_verdict`) find a step or a jump out of range in the last
       :data:`ARTIFACT_RECENT_S` or in the deep-breath window.
    5. **deep-breath test** (check electrodes when failed): after the experimenter's cue the
       largest rise within :data:`BREATH_WINDOW_S` must reach :data:`SCR_MIN_US` (0.05 µS,
       the usual minimum SCR amplitude). The window is counted in samples received after
       the cue (the data's own timeline, not the wall clock): until they are all in, the
       channel is ``waiting``, so a slow machine delays the verdict and never changes it.
Respiration belt (any unit)
    1. **flat line** (no signal): 0.5-99.5 % range below ``flat`` (default 1 mV).
    2. **belt quality** (check electrodes), the pipeline's
       (:func:`physio.rsp.rsp_quality.belt_window_verdict`): the belt is not quiet against
       the last minute's breathing depth, at least half of its power lies in the breathing
       band (else "tighten the belt"), and count-adv and soothe's breath counter agree.
    3. **implausible rate** (check electrodes): count-adv's rate outside
       :data:`RESP_RANGE_BPM`.

Examples
--------
>>> import numpy as np
>>> judge_ecg(np.zeros(5000), 500.0).reason
'flat line: lead off or cable unplugged'
>>> judge_eda(np.full(5000, 0.01), 500.0).status
'no signal'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal as sps

GOOD, CHECK, NO_SIGNAL, WAITING = "good", "check electrodes", "no signal", "waiting"

MIN_SECONDS = 3.0
ECG_FLAT_MV = 0.05
MAINS_RATIO = 0.5
EDA_OFF_US = 0.1
EDA_FLAT_US = 1e-4
CLIP_RUN_S = 0.5
SCR_MIN_US = 0.05
BREATH_WINDOW_S = 5.0
TONIC_DRIFT_MAX_US_S = 0.01
ARTIFACT_RECENT_S = 10.0
COMPARE_MIN_BREATHS = 3
RESP_RANGE_BPM = (4.0, 40.0)


@dataclass
class Verdict:
    """The check's verdict on one channel.

    ``value`` is the headline number (HR in bpm, EDA level in µS, breaths per minute) or
    NaN; ``marks`` are event times in seconds from the segment's first sample (R peaks for
    ECG, breaths for respiration); ``metrics`` the numbers behind the decision.
    """

    channel: str
    status: str
    reason: str
    value: float = float("nan")
    unit: str = ""
    marks: list[float] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready (NaN becomes None, marks are left out)."""
        out = asdict(self)
        out.pop("marks")
        for key in ("value",):
            out[key] = None if not np.isfinite(out[key]) else round(float(out[key]), 4)
        out["metrics"] = {k: (None if not np.isfinite(v) else round(float(v), 4))
                          for k, v in out["metrics"].items()}
        return out


def _prepare(x: Sequence[float], fs: float, channel: str) -> tuple[np.ndarray, Verdict | None]:
    """Finite float array, or an early verdict (too short, nothing finite)."""
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"{channel}: sampling rate must be > 0 Hz, got {fs}")
    x = np.asarray(x, dtype=np.float64).ravel()
    if len(x) < MIN_SECONDS * fs:
        return x, Verdict(channel, WAITING, f"waiting for data ({len(x) / fs:.1f} s of "
                                             f"{MIN_SECONDS:g} s)")
    finite = np.isfinite(x)
    if finite.mean() < 0.5:
        return x, Verdict(channel, NO_SIGNAL, "no samples arriving (gaps)")
    if not finite.all():
        x = np.interp(np.arange(len(x)), np.flatnonzero(finite), x[finite])
    return x, None


def _robust_range(x: np.ndarray) -> float:
    lo, hi = np.percentile(x, [0.5, 99.5])
    return float(hi - lo)


def _mains(x: np.ndarray, fs: float) -> tuple[float, float, np.ndarray]:
    """(mains frequency, its amplitude, the signal with 50/60 Hz and harmonics notched)."""
    if fs < 2 * 62:
        return float("nan"), 0.0, x
    spec_f, spec = sps.periodogram(x - x.mean(), fs, window="hann", scaling="density")
    df = spec_f[1] - spec_f[0]
    amp = {}
    for f0 in (50.0, 60.0):
        band = (spec_f > f0 - 1.5) & (spec_f < f0 + 1.5)
        amp[f0] = float(np.sqrt(2 * spec[band].sum() * df))  # sine amplitude from its power
    f0 = max(amp, key=amp.get)
    y = x
    for k in (1, 2, 3):
        if k * f0 < 0.45 * fs:
            b, a = sps.iirnotch(k * f0, 10.0, fs)
            y = sps.filtfilt(b, a, y)
    return f0, amp[f0], y


def judge_ecg(x: Sequence[float], fs: float, *, inverted_ok: bool = False) -> Verdict:
    """Verdict on an ECG segment in mV (a few seconds; 10 s is plenty).

    The steps: :func:`ecg_signal_verdict` (flat line, mains hum), :func:`ecg_live_beats`
    (the pipeline's QRS detector), :func:`ecg_beats_verdict` (rate, and the pipeline's
    beat-shape quality), then the lead's polarity.

    Parameters
    ----------
    x : array_like
        ECG samples in mV.
    fs : float
        Sampling rate (Hz).
    inverted_ok : bool
        The experimenter ticked "inverted": a negative QRS is expected for this placement.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 250.0; t = np.arange(int(10 * fs)) / fs
    >>> beats = np.arange(0.5, 10, 0.8)                  # 75 bpm
    >>> ecg = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beats)
    >>> v = judge_ecg(ecg, fs); (v.status, round(v.value))
    ('good', 75)
    >>> judge_ecg(-ecg, fs).reason
    "inverted ECG: swap the leads or tick 'inverted'"
    """
    x, early = _prepare(x, fs, "ECG")
    if early:
        return early
    cleaned, metrics, early = ecg_signal_verdict(x, fs)
    if early:
        return early
    peaks, inverted = ecg_live_beats(cleaned, fs)
    metrics.update(n_beats=float(len(peaks)), inverted=float(inverted))
    early = ecg_beats_verdict(x, fs, peaks, metrics)
    # an inverted lead is told at once, while the shapes are still waiting for beats
    if early and not (early.status == WAITING and inverted and not inverted_ok):
        return early
    hr = metrics["hr_bpm"]
    marks = [float(p / fs) for p in peaks]
    if inverted and not inverted_ok:
        return Verdict("ECG", CHECK, "inverted ECG: swap the leads or tick 'inverted'", hr,
                       "bpm", marks, metrics)
    return Verdict("ECG", GOOD, f"HR {hr:.0f} bpm, clear R peaks", hr, "bpm", marks, metrics)


def ecg_signal_verdict(x: np.ndarray, fs: float
                       ) -> tuple[np.ndarray, dict[str, float], Verdict | None]:
    """Rules 1-2 on a finite ECG segment: ``(cleaned ECG, metrics, verdict or None)``.

    ``cleaned`` is the pipeline's :func:`physio.ecg.ecg_clean.ecg_clean` of the segment with
    50/60 Hz and harmonics notched out.

    Examples
    --------
    >>> import numpy as np
    >>> ecg_signal_verdict(np.zeros(2500), 250.0)[2].status
    'no signal'
    """
    # lazy: the ECG pipeline adds half a second to start-up; only an ECG channel needs it
    from physio.ecg.ecg_clean import ecg_clean

    span = _robust_range(x - np.median(x))
    metrics = {"range_mv": span}
    if span < ECG_FLAT_MV:
        return x, metrics, Verdict("ECG", NO_SIGNAL, "flat line: lead off or cable unplugged",
                                   unit="bpm", metrics=metrics)
    f0, mains_amp, notched = _mains(x, fs)
    cleaned = ecg_clean(notched, fs)
    ecg_range = _robust_range(cleaned)
    metrics.update(mains_hz=f0, mains_mv=mains_amp, ecg_range_mv=ecg_range)
    if mains_amp > MAINS_RATIO * ecg_range:
        return cleaned, metrics, Verdict(
            "ECG", CHECK, f"mains hum ({f0:.0f} Hz, {mains_amp:.2f} mV) drowns the ECG: press "
            "the electrodes on, check the reference lead", unit="bpm", metrics=metrics)
    return cleaned, metrics, None


def ecg_live_beats(cleaned: np.ndarray, fs: float) -> tuple[np.ndarray, bool]:
    """R peaks (in samples, refined between samples) and polarity, by the pipeline's QRS
    detector.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 250.0; t = np.arange(int(10 * fs)) / fs
    >>> ecg = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 10, 0.8))
    >>> peaks, inverted = ecg_live_beats(ecg, fs); len(peaks), inverted
    (12, False)
    """
    # lazy: the ECG detector adds half a second to start-up; only an ECG channel needs it
    from physio.ecg.ecg_clean import ecg_detection_signal
    from physio.ecg.ecg_peaks import detect_qrs
    from physio.ecg.ecg_polarity import ecg_polarity, refine_peaks

    band, fs_d = ecg_detection_signal(cleaned, fs)
    approx = np.round(detect_qrs(band, fs_d) * fs / fs_d).astype(np.int64)
    approx = approx[(approx >= 0) & (approx < len(cleaned))]
    if len(approx) < 2:
        return approx, False
    inverted = bool(ecg_polarity(cleaned, approx, fs))
    return np.asarray(refine_peaks(cleaned, approx, fs, inverted), dtype=float), inverted


def ecg_beats_verdict(x: np.ndarray, fs: float, peaks: np.ndarray,
                      metrics: dict[str, float]) -> Verdict | None:
    """Rules 3-5: enough beats, a plausible rate, and beats that look like heartbeats.

    The shape rule is the pipeline's (:mod:`physio.ecg.ecg_quality`): each detected beat is
    correlated with the median beat of the segment on the 0.5-25 Hz band at most 250 Hz
    (:func:`~physio.ecg.ecg_quality.ecg_quality_input`,
    :func:`~physio.ecg.ecg_quality.ecg_beat_quality`) and the segment is judged like one
    pipeline window (:func:`~physio.ecg.ecg_quality.ecg_window_quality`). A template needs
    :data:`~physio.ecg.ecg_quality.MIN_TEMPLATE_BEATS` whole beats: until a segment long
    enough for them at the slowest plausible rate has arrived, fewer beats mean
    ``waiting``. ``metrics`` gains ``hr_bpm``, ``ecg_quality`` and ``unmatched_share``;
    None means every rule passed.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 250.0; t = np.arange(int(10 * fs)) / fs
    >>> ecg = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 10, 0.8))
    >>> m = {}; ecg_beats_verdict(ecg, fs, np.round(np.arange(0.5, 10, 0.8) * fs), m) is None
    True
    >>> round(m["ecg_quality"], 2)
    1.0
    """
    # lazy: the ECG pipeline adds half a second to start-up; only an ECG channel needs it
    from physio.ecg import ecg_quality as eq

    if len(peaks) < 2:
        return Verdict("ECG", CHECK, "no heartbeat found", unit="bpm", metrics=metrics)
    peaks_s = np.asarray(peaks, dtype=float) / fs
    hr = 60.0 / float(np.median(np.diff(peaks_s)))
    metrics["hr_bpm"] = hr
    marks = [float(p) for p in peaks_s]
    lo, hi = eq.HR_RANGE_BPM
    if not lo <= hr <= hi:
        words = ("noise, not beats" if hr > hi else
                 "too slow: beats missed, check the electrodes")
        return Verdict("ECG", CHECK, f"HR {hr:.0f}: {words}", hr, "bpm", marks, metrics)
    beats = eq.ecg_beat_quality(*eq.ecg_quality_input(x, fs), peaks_s)
    judged = int(np.isfinite(beats["template_corr"]).sum())
    if judged < eq.MIN_TEMPLATE_BEATS and len(x) / fs < ecg_shape_seconds():
        return Verdict("ECG", WAITING, f"HR {hr:.0f} bpm; waiting for "
                       f"{eq.MIN_TEMPLATE_BEATS} beats to compare their shapes", hr, "bpm",
                       marks, metrics)
    q = eq.ecg_window_quality(peaks_s, beats, 0.0, len(x) / fs)
    metrics.update(ecg_quality=q["ecg_quality"], unmatched_share=q["ecg_unmatched_share"])
    if q["ecg_valid"]:
        return None
    return Verdict("ECG", CHECK, ecg_shape_words(q["ecg_quality"], q["ecg_unmatched_share"]),
                   hr, "bpm", marks, metrics)


def ecg_shape_seconds() -> float:
    """Seconds that hold :data:`~physio.ecg.ecg_quality.MIN_TEMPLATE_BEATS` whole beats at
    the slowest plausible heart rate (plus the beat span cut off at the segment's ends).

    Examples
    --------
    >>> round(ecg_shape_seconds(), 1)
    8.1
    """
    # lazy: the ECG pipeline adds half a second to start-up; only an ECG channel needs it
    from physio.ecg import ecg_quality as eq

    return (eq.MIN_TEMPLATE_BEATS * 60.0 / eq.HR_RANGE_BPM[0] + sum(eq.BEAT_WINDOW_S))


def ecg_shape_words(quality: float, unmatched: float) -> str:
    """Plain words for a segment whose beats fail the pipeline's shape rules.

    Examples
    --------
    >>> ecg_shape_words(0.3, 0.9)[:40]
    'no heartbeat: the peaks found do not loo'
    """
    # lazy: the ECG pipeline adds half a second to start-up; only an ECG channel needs it
    from physio.ecg import ecg_quality as eq

    if not np.isfinite(quality):
        return "no heartbeat found: check the electrodes"
    if quality < eq.WINDOW_CORR_MIN:
        return (f"no heartbeat: the peaks found do not look alike (shape match {quality:.2f}, "
                f"a heart gives {eq.WINDOW_CORR_MIN} or more): check the electrodes")
    return (f"no clear heartbeat: {unmatched:.0%} of the peaks found do not look like a "
            "heartbeat (movement or a loose electrode): check the electrodes")


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def breath_response(x: np.ndarray, fs: float, cue_s: float) -> float:
    """Largest rise (µS) of the EDA within :data:`BREATH_WINDOW_S` after a cue at ``cue_s``.

    The rise is measured from the lowest point before it in the window (so a falling tonic
    level counts as no response), on the signal smoothed over 0.25 s, after removing the
    tonic trend of the 2 s before the cue (so a slowly rising level is no response either).
    Only a rise of at most :data:`TONIC_DRIFT_MAX_US_S` (0.01 µS/s, i.e. 0.05 µS over the
    window) is taken as tonic drift; a steeper one is a response already under way.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 100.0; t = np.arange(1000) / fs
    >>> x = 2.0 + 0.3 * (t > 4) * (1 - np.exp(-(t - 4) / 0.7))   # a response 2 s after the cue
    >>> round(breath_response(x, fs, 2.0), 2)
    0.3
    """
    a = int(round(cue_s * fs))
    b = int(round((cue_s + BREATH_WINDOW_S) * fs))
    x = np.asarray(x, dtype=np.float64)
    seg = x[max(a, 0):b]
    if len(seg) < 2:
        return float("nan")
    pre = x[max(a - int(round(2 * fs)), 0):max(a, 0)]
    if len(pre) >= 0.5 * fs:  # the tonic trend before the cue, carried on through the window
        slope = np.polyfit(np.arange(len(pre)) / fs, pre, 1)[0]
        # only a slow rise is tonic drift; a steeper one is a response already under way,
        # and a fall needs no correction (the rise is measured from the lowest point)
        slope = float(np.clip(slope, 0.0, TONIC_DRIFT_MAX_US_S))
        seg = seg - slope * np.arange(len(seg)) / fs
    width = max(int(round(0.25 * fs)), 1)
    seg = np.convolve(seg, np.ones(width) / width, mode="valid") if len(seg) > width else seg
    return float(np.max(seg - np.minimum.accumulate(seg)))


def judge_eda(x: Sequence[float], fs: float, *, cues_s: Sequence[float] = (),
              amplifier_max_us: float | None = None) -> Verdict:
    """Verdict on an EDA segment in µS, with the deep-breath test when a cue was given.

    Parameters
    ----------
    x : array_like
        Skin conductance (µS).
    fs : float
        Sampling rate (Hz).
    cues_s : sequence of float
        Times (s from the segment's first sample) the participant was asked for a deep
        breath; the latest one whose 5-s window is complete decides the test. While a
        later cue's window is still filling, the channel is ``waiting``.
    amplifier_max_us : float, optional
        The amplifier's upper range, when known.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 100.0; t = np.arange(1000) / fs
    >>> x = 5.0 + 0.001 * np.sin(t) + 0.2 * (t > 4) * (1 - np.exp(-(t - 4) / 0.7))
    >>> judge_eda(x, fs, cues_s=[2.0]).reason
    'level 5.2 µS; responds to a deep breath (+0.20 µS)'
    >>> judge_eda(x[:600], fs, cues_s=[2.0]).status   # 1 s of the 5-s window still to come
    'waiting'
    >>> judge_eda(np.minimum(x + 40, 45.0), fs).reason
    'EDA above the amplifier range'
    """
    x, early = _prepare(x, fs, "EDA")
    if early:
        return early
    level = float(np.median(x[-int(MIN_SECONDS * fs):]))
    metrics: dict[str, float] = {"level_us": level}
    if level < EDA_OFF_US:
        return Verdict("EDA", NO_SIGNAL, f"EDA {level:.2f} µS: electrode off or no skin "
                       "contact", level, "µS", metrics=metrics)
    top = float(np.max(x))
    on_top = np.abs(x - top) <= 1e-6 * max(abs(top), 1.0)
    clip_s = _longest_run(on_top) / fs
    metrics["at_max_s"] = clip_s
    if clip_s >= CLIP_RUN_S or (amplifier_max_us is not None and level >= amplifier_max_us):
        return Verdict("EDA", CHECK, "EDA above the amplifier range", level, "µS",
                       metrics=metrics)
    if float(np.std(x)) < EDA_FLAT_US:
        return Verdict("EDA", NO_SIGNAL, "flat line", level, "µS", metrics=metrics)
    end_s = len(x) / fs
    done = [c for c in cues_s if 0 <= c and c + BREATH_WINDOW_S <= end_s]
    waiting = [c for c in cues_s if 0 <= c and c + BREATH_WINDOW_S > end_s]
    artefact = eda_artifact_verdict(x, fs, done[-1] if done else None, metrics)
    if artefact:
        return artefact
    if done:
        rise = breath_response(x, fs, done[-1])
        metrics["breath_rise_us"] = rise
        if not rise >= SCR_MIN_US:
            return Verdict("EDA", CHECK, f"no response to a deep breath (+{rise:.2f} µS in "
                           f"{BREATH_WINDOW_S:g} s; want >= {SCR_MIN_US} µS)", level, "µS",
                           metrics=metrics)
        return Verdict("EDA", GOOD, f"level {level:.1f} µS; responds to a deep breath "
                       f"(+{rise:.2f} µS)", level, "µS", metrics=metrics)
    if waiting:
        left = waiting[-1] + BREATH_WINDOW_S - end_s
        # not judged until the window's samples are in: a late sample delays the verdict,
        # it never changes it
        return Verdict("EDA", WAITING, f"level {level:.1f} µS; deep-breath test: watching for "
                       f"{max(left, 0.1):.1f} s more", level, "µS", metrics=metrics)
    return Verdict("EDA", GOOD, f"level {level:.1f} µS; deep-breath test not done yet",
                   level, "µS", metrics=metrics)


def eda_artifact_verdict(x: np.ndarray, fs: float, cue_s: float | None,
                         metrics: dict[str, float]) -> Verdict | None:
    """The pipeline's EDA artefact rules on the segment: a step or a jump out of range in
    the last :data:`ARTIFACT_RECENT_S` or in the deep-breath window of ``cue_s`` means
    ``check electrodes``.

    The artefacts are found by :func:`physio.eda.eda_artifacts.eda_artifacts` (range and
    slope, Kleckner et al. 2018), the segment's artefact-free share by
    :func:`~physio.eda.eda_artifacts.eda_window_quality`: the same functions and
    thresholds the pipeline uses to exclude a stretch and never count an SCR in it. An
    artefact in the deep-breath window would pass for a response, so it spoils the test.
    ``metrics`` gains ``eda_quality`` and ``eda_artifacts``; None means no artefact.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 100.0; x = np.full(1000, 5.0); x[500:] += 2.0   # a 2 µS step between samples
    >>> eda_artifact_verdict(x, fs, None, {}).reason[:52]
    'EDA jumped faster than skin can change (> 10 µS/s) 5'
    """
    # lazy: the EDA artefact rules load pandas and the EDA pipeline; only EDA needs them
    from physio.eda import eda_artifacts as ea

    end_s = len(x) / fs
    intervals = ea.eda_artifacts(x, fs)
    q = ea.eda_window_quality(intervals, 0.0, end_s)
    metrics.update(eda_quality=float(q["eda_quality"]), eda_artifacts=float(q["eda_artifacts"]))
    spans = [(end_s - ARTIFACT_RECENT_S, end_s)]
    if cue_s is not None:
        spans.append((cue_s, cue_s + BREATH_WINDOW_S))
    hits = [(a, b, r) for a, b, r in intervals
            if any(a < hi and b > lo for lo, hi in spans)]
    if not hits:
        return None
    a, b, kind = hits[-1]
    # the interval is padded on both sides; its middle is when the signal jumped
    ago = max(end_s - 0.5 * (a + b), 0.0)
    level = metrics.get("level_us", float("nan"))
    if "slope" in kind:
        what = (f"EDA jumped faster than skin can change (> {ea.MAX_SLOPE_US_PER_S:g} µS/s) "
                f"{ago:.0f} s ago")
    else:
        what = (f"EDA left the range of skin ({ea.RANGE_US[0]:g}-{ea.RANGE_US[1]:g} µS) "
                f"{ago:.0f} s ago")
    during = cue_s is not None and a < cue_s + BREATH_WINDOW_S and b > cue_s
    advice = ("; ask for the deep breath again" if during else "")
    return Verdict("EDA", CHECK, f"{what}: an electrode moved or lost contact, press it on "
                   f"and keep the hand still{advice}", level, "µS", metrics=metrics)


def judge_resp(x: Sequence[float], fs: float, *, flat: float = 1e-3,
               reference: Sequence[float] | None = None) -> Verdict:
    """Verdict on a respiration-belt segment (any unit; 10 s or more gives a rate).

    After the flat-line rule, the segment is judged like one pipeline window by the belt
    quality of :mod:`physio.rsp.rsp_quality` (:func:`belt_evidence`, then
    :func:`~physio.rsp.rsp_quality.belt_window_verdict`): the belt must not be quiet, most
    of its power must lie in the breathing band, and the two breath counters (count-adv
    and soothe's) must agree. The rate shown is count-adv's, the pipeline's reported rate.

    Parameters
    ----------
    x : array_like
        The belt segment to judge.
    fs : float
        Sampling rate (Hz).
    flat : float
        Range (signal units) below which the belt is unplugged.
    reference : array_like, optional
        A longer stretch of the same belt ending with ``x`` (the last minute): its loud
        windows stand for the participant's breathing depth, as the recording does in the
        pipeline. Without it the quiet-belt rule has nothing to compare with and passes.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 50.0; t = np.arange(int(20 * fs)) / fs
    >>> v = judge_resp(np.sin(2 * np.pi * 0.25 * t), fs); (v.status, round(v.value))
    ('good', 15)
    """
    x, early = _prepare(x, fs, "RESP")
    if early:
        return early
    span = _robust_range(x)
    metrics = {"range": span}
    if span < flat:
        return Verdict("RESP", NO_SIGNAL, "flat line: belt unplugged", unit="/min",
                       metrics=metrics)
    troughs = belt_evidence(x, fs, reference, metrics)
    if not np.isfinite(metrics["band_share"]):
        return Verdict("RESP", WAITING, "waiting for more belt signal", unit="/min",
                       metrics=metrics)
    early = belt_quality_verdict(metrics)
    if early:
        return early
    rate = metrics["count_adv_bpm"]
    marks = [float(t) for t in troughs]
    lo, hi = RESP_RANGE_BPM
    if not lo <= rate <= hi:
        return Verdict("RESP", CHECK, f"{rate:.0f} breaths/min: not breathing, check the belt",
                       rate, "/min", marks, metrics)
    return Verdict("RESP", GOOD, f"{rate:.0f} breaths/min", rate, "/min", marks, metrics)


def belt_evidence(x: np.ndarray, fs: float, reference: Sequence[float] | None,
                  metrics: dict[str, float]) -> np.ndarray:
    """The pipeline's belt-quality numbers for one segment; returns count-adv's breaths.

    The segment goes through :func:`live_belt_trace`, count-adv
    (:func:`~physio.rsp.rsp_quality.count_adv`; its median breath in the segment is the rate
    shown) and :func:`~physio.rsp.rsp_quality.breathing_band_share`. The quiet-belt ratio
    compares the segment's trace SD with the
    :data:`~physio.rsp.rsp_quality.REFERENCE_PERCENTILE` of the SDs of the ``reference``'s
    consecutive stretches of the same length (1 without a reference). The two counters
    (count-adv and :func:`physio.rsp.rsp_peaks.rsp_breaths`) are compared, as in the
    pipeline, by their median breath over the ``reference`` (the segment without one), and
    only once each has :data:`COMPARE_MIN_BREATHS` whole breaths: the pipeline compares
    medians over a minute, and the median of one or two breaths follows a single long or
    short breath. ``metrics`` gains ``band_share``, ``amplitude_ratio``, ``count_adv_bpm``,
    and the compared ``count_adv_median_bpm`` and ``soothe_bpm`` (NaN until compared).

    Examples
    --------
    >>> import numpy as np
    >>> fs = 50.0; t = np.arange(int(20 * fs)) / fs
    >>> m = {}; len(belt_evidence(np.sin(2 * np.pi * 0.25 * t), fs, None, m))
    5
    >>> round(m["count_adv_bpm"]), round(m["soothe_bpm"]), round(m["band_share"], 2)
    (15, 15, 1.0)
    """
    # lazy: the belt pipeline loads pandas and the ECG-derived breathing; only a belt needs it
    from physio.rsp import rsp_quality as rq

    clean, fs_c, delay = live_belt_trace(x, fs)
    troughs = rq.count_adv(clean, fs_c) + delay
    span, ratio = clean, 1.0
    if reference is not None and len(reference) > len(x):
        ref = np.asarray(reference, dtype=np.float64)
        span, _, _ = live_belt_trace(np.interp(np.arange(len(ref)), *_finite_points(ref)), fs)
        n = len(clean)
        sds = [np.std(span[i:i + n]) for i in range(len(span) - n, -1, -n)]
        loud = float(np.percentile(sds, rq.REFERENCE_PERCENTILE))
        ratio = float(np.std(clean) / loud) if loud > 0 else float("nan")
    metrics.update(band_share=rq.breathing_band_share(x, fs), amplitude_ratio=ratio,
                   count_adv_bpm=_median_rate(np.diff(troughs), 1),
                   count_adv_median_bpm=_median_rate(np.diff(rq.count_adv(span, fs_c)),
                                                     COMPARE_MIN_BREATHS),
                   soothe_bpm=_median_rate(60.0 / _breath_rates(span, fs_c),
                                           COMPARE_MIN_BREATHS))
    return troughs


def _breath_rates(clean: np.ndarray, fs: float) -> np.ndarray:
    # lazy: the belt pipeline loads pandas and the ECG-derived breathing; only a belt needs it
    from physio.rsp.rsp_peaks import rsp_breaths

    rate = rsp_breaths(clean, fs).rate_bpm
    return rate[np.isfinite(rate)]


def _median_rate(periods_s: np.ndarray, least: int) -> float:
    """60 / the median breath (s) among plausible ones; NaN with fewer than ``least``."""
    # lazy: the belt pipeline loads pandas and the ECG-derived breathing; only a belt needs it
    from physio.rsp.rsp_quality import PERIOD_RANGE_S

    p = np.asarray(periods_s, dtype=float)
    p = p[(p >= PERIOD_RANGE_S[0]) & (p <= PERIOD_RANGE_S[1])]
    return 60.0 / float(np.median(p)) if len(p) >= least else float("nan")


def live_belt_trace(x: np.ndarray, fs: float) -> tuple[np.ndarray, float, float]:
    """The pipeline's belt trace on a few seconds: ``(clean, rate_hz, delay_s)``.

    The same steps as :func:`physio.rsp.rsp_quality.belt_trace`: block-mean decimation
    (:func:`physio.rsp.rsp_clean.rsp_decimate`), linear detrend, zero-phase 2nd-order
    Butterworth on :data:`physio.rsp.rsp_clean.RSP_BAND_HZ`. The pipeline's
    :func:`~physio.rsp.rsp_clean.rsp_clean` refuses less than 30 s (the least a recording
    needs for a rate); the live check has a few seconds, so the filter is applied here.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 10, 0.02)
    >>> clean, fs, delay = live_belt_trace(3 + np.sin(2 * np.pi * 0.25 * t), 50.0)
    >>> fs, len(clean), bool(abs(np.std(clean[100:-100]) - 0.71) < 0.05)
    (50.0, 500, True)
    """
    # lazy: the belt pipeline loads pandas and the ECG-derived breathing; only a belt needs it
    from physio.rsp.rsp_clean import RSP_BAND_HZ, rsp_decimate

    trace, fs_c, delay = rsp_decimate(x, fs)
    sos = _belt_sos(float(fs_c), tuple(RSP_BAND_HZ))
    clean = sps.sosfiltfilt(sos, sps.detrend(np.asarray(trace, dtype=np.float64), type="linear"))
    return clean, float(fs_c), float(delay)


@lru_cache(maxsize=8)
def _belt_sos(fs: float, band_hz: tuple[float, float]) -> np.ndarray:
    # designing the filter costs more than running it on a minute of belt signal
    return sps.butter(2, [band_hz[0], min(band_hz[1], 0.4 * fs)], btype="bandpass", fs=fs,
                      output="sos")


def _finite_points(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(x)
    if not ok.any():
        return np.arange(len(x)), np.zeros(len(x))
    return np.flatnonzero(ok), x[ok]


def belt_quality_verdict(metrics: dict[str, float]) -> Verdict | None:
    """The pipeline's belt verdict (:func:`~physio.rsp.rsp_quality.belt_window_verdict`) on
    :func:`belt_evidence`'s numbers, in plain words; None when the belt passes.

    Until both counters have :data:`COMPARE_MIN_BREATHS` whole breaths the belt passes on the
    quiet and noise rules alone (as long as count-adv has one breath for the rate shown).

    Examples
    --------
    >>> m = {"band_share": 0.1, "amplitude_ratio": 1.0, "count_adv_bpm": 25.0,
    ...      "count_adv_median_bpm": 25.0, "soothe_bpm": 31.0}
    >>> belt_quality_verdict(m).reason[:42]
    'breathing barely visible: tighten the belt'
    """
    # lazy: the belt pipeline loads pandas and the ECG-derived breathing; only a belt needs it
    from physio.rsp import rsp_quality as rq

    quality, reason = rq.belt_window_verdict(metrics["soothe_bpm"],
                                             metrics["count_adv_median_bpm"],
                                             metrics["amplitude_ratio"], metrics["band_share"])
    metrics["belt_quality"] = quality
    if not reason:
        return None
    if reason.startswith("belt is quiet"):
        words = (f"belt is quiet: it moves {metrics['amplitude_ratio']:.0%} of the breathing "
                 "depth of the last minute: tighten the belt, check the participant breathes")
    elif reason.startswith("belt carries noise"):
        words = (f"breathing barely visible: tighten the belt ({metrics['band_share']:.0%} of "
                 f"the belt signal is breathing; want {rq.MIN_BAND_SHARE:.0%} or more)")
    elif reason.startswith("too few breaths"):
        if np.isfinite(metrics["count_adv_bpm"]):
            # too few breaths yet to compare the counters: the two rules above passed,
            # agreement is judged once both have COMPARE_MIN_BREATHS
            return None
        return Verdict("RESP", WAITING, "waiting for two breaths", unit="/min",
                       metrics=metrics)
    else:
        words = (f"breathing irregular: the two breath counters disagree "
                 f"({metrics['soothe_bpm']:.0f} vs {metrics['count_adv_median_bpm']:.0f}/min): "
                 "ask the participant to sit still and not talk, or tighten the belt")
    return Verdict("RESP", CHECK, words, unit="/min", metrics=metrics)


def overall(verdicts: Sequence[Verdict]) -> str:
    """The worst status over the channels (good < waiting < check electrodes < no signal).

    Examples
    --------
    >>> overall([Verdict("ECG", GOOD, ""), Verdict("EDA", CHECK, "")])
    'check electrodes'
    """
    order = [GOOD, WAITING, CHECK, NO_SIGNAL]
    return max((v.status for v in verdicts), key=order.index, default=NO_SIGNAL)
