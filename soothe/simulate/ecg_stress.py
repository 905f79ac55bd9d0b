"""Beat-by-beat ECG stress cases with exact ground truth (beat times and beat labels).

Each case is built in two steps: first the rhythm -- every beat's exact R-peak time and its
label (``N`` sinus, ``A`` premature atrial, ``V`` premature ventricular, ``AF`` atrial
fibrillation) -- then the waveform, one P-QRS-T template per beat (sums of Gaussians placed
at the beat's time, the classic synthetic-ECG construction of McSharry et al. 2003 without
its ODE, so that the R peak sits *exactly* at the stated time), then the recording problems
(baseline wander, electrode motion, mains, low amplitude, inverted lead, sampling rate,
12-bit quantisation). neurokit2's ``ecg_simulate`` is not used because it does not report
the time and type of each beat.

Every case carries amplifier noise (8 uV white), as every real recording does: a "flat" line
between two beats does not exist in a recording, and the beat detector may rely on that.

Cases (:data:`SCENARIOS`): ``rsa_6_per_min`` (paced breathing at 6/min, RR 1000 +- 250 ms),
``sinus_pauses`` (2-3.5 s), ``av_block_2to1`` (episodes of 2:1 block with the blocked P
waves drawn), ``bigeminy``, ``isolated_pvc_pac`` (with full and non-compensatory pauses),
``atrial_fibrillation`` (no P waves, f waves, irregular RR), ``baseline_wander``,
``electrode_motion``, ``mains_50hz``, ``mains_60hz``, ``amplitude_0.1mV``, ``inverted_lead``,
``rate_100hz`` ... ``rate_2000hz`` and ``quantised_12bit``.

References
----------
McSharry, P. E., Clifford, G. D., Tarassenko, L., & Smith, L. A. (2003). A dynamical model
for generating synthetic electrocardiogram signals. IEEE TBME, 50(3), 289-294.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy import signal as sps

#: (centre s relative to R, width s, amplitude mV) of P, Q, R, S, T for each beat type.
TEMPLATES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "N": ((-0.17, 0.022, 0.12), (-0.03, 0.009, -0.1), (0.0, 0.009, 1.1),
          (0.034, 0.011, -0.25), (0.26, 0.045, 0.3)),
    # premature atrial: an early, inverted P; normal conduction
    "A": ((-0.14, 0.02, -0.08), (-0.03, 0.009, -0.1), (0.0, 0.009, 1.05),
          (0.034, 0.011, -0.25), (0.25, 0.045, 0.28)),
    # premature ventricular: no P, wide tall QRS, discordant T
    "V": ((-0.04, 0.02, -0.2), (0.0, 0.022, 1.7), (0.06, 0.025, -0.45),
          (0.32, 0.06, -0.45)),
    # atrial fibrillation: no P wave (f waves are added to the whole record)
    "AF": ((-0.03, 0.009, -0.1), (0.0, 0.009, 1.1), (0.034, 0.011, -0.25),
           (0.26, 0.045, 0.3)),
    # a P wave that is not conducted (AV block): drawn, but it is not a beat
    "P": ((0.0, 0.022, 0.12),),
}
#: Amplifier noise (mV, white) present in every case.
NOISE_MV = 0.008


@dataclass
class StressCase:
    """One synthetic recording with exact ground truth.

    Attributes
    ----------
    name : str
    ecg : numpy.ndarray
        The signal (mV unless a case says otherwise).
    sampling_rate : float
    beat_s : numpy.ndarray
        Exact R-peak time of every beat (s).
    label : numpy.ndarray
        ``N``, ``A``, ``V`` or ``AF`` per beat.
    borders_pause : numpy.ndarray
        True for the beats just before and after a pause (sinus pause or blocked beat).
    description : str
    """

    name: str
    ecg: np.ndarray
    sampling_rate: float
    beat_s: np.ndarray
    label: np.ndarray
    borders_pause: np.ndarray
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def normal(self) -> np.ndarray:
        """True for sinus beats whose interval is normal-to-normal (both ends ``N``)."""
        n = self.label == "N"
        return n & np.r_[False, n[:-1]]


def render(beat_s: np.ndarray, label: np.ndarray, duration_s: float, fs: float,
           extra_p_s: np.ndarray | None = None) -> np.ndarray:
    """Sum of per-beat Gaussian templates (mV), vectorised by beat type.

    Examples
    --------
    >>> x = render(np.array([1.0, 2.0]), np.array(["N", "V"]), 3.0, 500.0)
    >>> int(np.argmax(x)) / 500.0, round(float(x.max()), 2)
    (2.0, 1.65)
    """
    n = int(round(duration_s * fs))
    x = np.zeros(n)
    groups = [(beat_s[label == k], k) for k in np.unique(label)]
    if extra_p_s is not None and len(extra_p_s):
        groups.append((np.asarray(extra_p_s, float), "P"))
    for times, kind in groups:
        for c, w, a in TEMPLATES[kind]:
            offs = np.arange(int(np.floor((c - 5 * w) * fs)) - 1,
                             int(np.ceil((c + 5 * w) * fs)) + 2)
            r = np.floor(times * fs).astype(np.int64)
            frac = times * fs - r
            idx = r[:, None] + offs[None, :]
            val = a * np.exp(-0.5 * (((offs[None, :] - frac[:, None]) / fs - c) / w) ** 2)
            keep = (idx >= 0) & (idx < n)
            x += np.bincount(idx[keep], weights=val[keep], minlength=n)
    return x


def _times(rr_s: np.ndarray, start_s: float = 1.0) -> np.ndarray:
    return start_s + np.r_[0.0, np.cumsum(rr_s[:-1])]


def _sinus_rr(n: int, rng: np.random.Generator, mean_s: float = 0.85,
              rsa_s: float = 0.04, breath_s: float = 4.0) -> np.ndarray:
    """Sinus RR (s): respiratory modulation at the breathing period plus small jitter."""
    t = np.cumsum(np.full(n, mean_s))
    return (mean_s + rsa_s * np.sin(2 * np.pi * t / breath_s)
            + 0.01 * np.sin(2 * np.pi * t / 60.0) + rng.normal(0, 0.006, n))


def _finish(name: str, beat_s: np.ndarray, label: np.ndarray, duration_s: float, fs: float,
            rng: np.random.Generator, borders: np.ndarray | None = None,
            description: str = "", extra_p_s: np.ndarray | None = None,
            add: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
            ) -> StressCase:
    keep = (beat_s > 0.5) & (beat_s < duration_s - 0.6)
    beat_s, label = beat_s[keep], label[keep]
    borders = np.zeros(len(beat_s), bool) if borders is None else borders[keep]
    x = render(beat_s, label, duration_s, fs, extra_p_s)
    t = np.arange(len(x)) / fs
    x += 0.05 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))  # breathing baseline
    x += rng.normal(0.0, NOISE_MV, len(x))
    if add is not None:
        x = add(x, t)
    return StressCase(name, x, float(fs), beat_s, label, borders, description)


def rsa_6_per_min(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Paced breathing at 6/min: RR 1000 ms +- 250 ms, a 10-s sinusoid (beat-to-beat
    changes up to ~160 ms), plus small jitter. All beats are sinus."""
    rng = np.random.default_rng(seed)
    t, beats = 1.0, []
    while t < duration_s:
        beats.append(t)
        t += 1.0 + 0.25 * np.sin(2 * np.pi * t / 10.0) + rng.normal(0, 0.005)
    b = np.asarray(beats)
    return _finish("rsa_6_per_min", b, np.full(len(b), "N"), duration_s, fs, rng,
                   description="paced breathing 6/min, RSA +-250 ms")


def sinus_pauses(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Sinus rhythm (~70 bpm) with a pause of 2-3.5 s about every 15 beats."""
    rng = np.random.default_rng(seed)
    rr = _sinus_rr(int(duration_s / 0.7) + 10, rng)
    pause = np.zeros(len(rr), bool)
    pause[np.arange(12, len(rr), 15) + rng.integers(-3, 4, len(range(12, len(rr), 15)))] = True
    rr[pause] = rng.uniform(2.0, 3.5, pause.sum())
    b = _times(rr)
    # rr[i] is the interval after beat i: beats i and i + 1 border the pause
    borders = pause | np.r_[False, pause[:-1]]
    return _finish("sinus_pauses", b, np.full(len(b), "N"), duration_s, fs, rng, borders,
                   "sinus pauses of 2-3.5 s")


def av_block_2to1(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Sinus P waves at ~80/min; in alternate 30-s episodes every other P is not conducted
    (2:1 AV block, ventricular rate ~40/min) and is drawn as a lone P wave."""
    rng = np.random.default_rng(seed)
    pp = _sinus_rr(int(duration_s / 0.75) + 10, rng, mean_s=0.75, rsa_s=0.02)
    p_times = _times(pp) - 0.17  # P wave 170 ms before the R it would lead to
    r_times = p_times + 0.17
    blocked = np.zeros(len(p_times), bool)
    in_block = (r_times // 30).astype(int) % 2 == 1
    idx = np.flatnonzero(in_block)
    blocked[idx[1::2]] = True
    beats = r_times[~blocked]
    borders = np.zeros(len(r_times), bool)
    borders[np.flatnonzero(blocked) - 1] = True
    borders[np.minimum(np.flatnonzero(blocked) + 1, len(r_times) - 1)] = True
    return _finish("av_block_2to1", beats, np.full(len(beats), "N"), duration_s, fs, rng,
                   borders[~blocked], "2:1 AV block in alternate 30-s episodes",
                   extra_p_s=p_times[blocked])


def _ectopic(rr: np.ndarray, at: np.ndarray, kinds: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Insert premature beats: rr[i] is the interval after beat i. A PVC comes at 55-65 %
    of the sinus interval with a full compensatory pause (the two intervals sum to two sinus
    intervals); a PAC at 65-75 % resets the sinus node (the next interval is one sinus
    interval)."""
    label = np.full(len(rr), "N", dtype=object)
    rr = rr.copy()
    for i, k in zip(at, kinds, strict=True):
        base = rr[i]
        c = rng.uniform(0.55, 0.65) if k == "V" else rng.uniform(0.65, 0.75)
        rr[i] = c * base
        rr[i + 1] = (2.0 - c) * base if k == "V" else base
        label[i + 1] = k
    return rr, label


def bigeminy(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Ventricular bigeminy: every other beat is a PVC with a compensatory pause."""
    rng = np.random.default_rng(seed)
    rr = _sinus_rr(int(duration_s / 0.7) + 10, rng)
    at = np.arange(0, len(rr) - 2, 2)
    rr, label = _ectopic(rr, at, np.full(len(at), "V"), rng)
    return _finish("bigeminy", _times(rr), np.asarray(label, dtype=str), duration_s, fs, rng,
                   description="ventricular bigeminy")


def isolated_pvc_pac(fs: float = 500.0, duration_s: float = 300.0,
                     seed: int = 0) -> StressCase:
    """Sinus rhythm with an isolated PVC or PAC every 10-20 beats."""
    rng = np.random.default_rng(seed)
    rr = _sinus_rr(int(duration_s / 0.7) + 10, rng)
    at = np.cumsum(rng.integers(10, 21, len(rr) // 10))
    at = at[at < len(rr) - 3]
    kinds = rng.choice(np.array(["V", "A"]), len(at))
    rr, label = _ectopic(rr, at, kinds, rng)
    return _finish("isolated_pvc_pac", _times(rr), np.asarray(label, dtype=str), duration_s,
                   fs, rng, description="isolated PVCs and PACs")


def atrial_fibrillation(fs: float = 500.0, duration_s: float = 300.0,
                        seed: int = 0) -> StressCase:
    """AF: irregularly irregular RR (0.33 s + gamma, mean ~0.7 s, CV ~25 %), no P waves,
    f waves of 0.05 mV at 4-8 Hz."""
    rng = np.random.default_rng(seed)
    rr = 0.33 + rng.gamma(4.0, 0.095, int(duration_s / 0.5))

    def fwaves(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        f = 6.0 + 1.5 * np.sin(2 * np.pi * 0.1 * t)
        return x + 0.05 * np.sin(2 * np.pi * np.cumsum(f) / fs)

    b = _times(rr)
    return _finish("atrial_fibrillation", b, np.full(len(b), "AF"), duration_s, fs, rng,
                   description="atrial fibrillation", add=fwaves)


def _sinus(name: str, description: str, fs: float, duration_s: float, seed: int,
           add: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
           rng: np.random.Generator | None = None) -> StressCase:
    rng = np.random.default_rng(seed) if rng is None else rng
    b = _times(_sinus_rr(int(duration_s / 0.7) + 10, rng))
    return _finish(name, b, np.full(len(b), "N"), duration_s, fs, rng, description=description,
                   add=add)


def baseline_wander(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Sinus rhythm on a baseline moving by up to +-1.5 mV (0.05-0.5 Hz)."""
    rng = np.random.default_rng(seed)
    ph = rng.uniform(0, 6.3, 3)
    return _sinus("baseline_wander", "baseline wander +-1.5 mV", fs, duration_s, seed,
                  lambda x, t: x + 0.8 * np.sin(2 * np.pi * 0.05 * t + ph[0])
                  + 0.5 * np.sin(2 * np.pi * 0.2 * t + ph[1])
                  + 0.2 * np.sin(2 * np.pi * 0.5 * t + ph[2]), rng)


def electrode_motion(fs: float = 500.0, duration_s: float = 300.0,
                     seed: int = 0) -> StressCase:
    """Sinus rhythm with a 2-4 s electrode-motion burst every ~20 s: band-limited
    (0.3-10 Hz) noise of 0.15 mV RMS at the burst's peak (signal-to-noise ratio 7 dB with
    the MIT-BIH noise stress test's definition, S = (QRS peak-to-peak / 4)^2) plus a
    baseline excursion of up to +-1 mV."""
    rng = np.random.default_rng(seed)

    def bursts(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        sos = sps.butter(2, [0.3, 10.0], btype="bandpass", fs=fs, output="sos")
        noise = sps.sosfiltfilt(sos, rng.normal(0, 1, len(x)))
        noise *= 0.15 / noise.std()
        env = np.zeros(len(x))
        shift = np.zeros(len(x))
        for s in np.arange(10.0, duration_s - 5, 20.0) + rng.uniform(-3, 3):
            a, b = int(s * fs), int((s + rng.uniform(2, 4)) * fs)
            env[a:b] = np.hanning(b - a)
            shift[a:b] = rng.uniform(-1.0, 1.0) * np.hanning(b - a)  # electrode pulled
        return x + env * noise + shift

    return _sinus("electrode_motion", "electrode-motion bursts", fs, duration_s, seed,
                  bursts, rng)


def mains(hz: float, fs: float = 500.0, duration_s: float = 300.0,
          seed: int = 0) -> StressCase:
    """Sinus rhythm with mains hum of 0.3 mV (and its 3rd harmonic at 0.05 mV)."""
    return _sinus(f"mains_{hz:g}hz", f"{hz:g} Hz mains 0.3 mV", fs, duration_s, seed,
                  lambda x, t: x + 0.3 * np.sin(2 * np.pi * hz * t)
                  + 0.05 * np.sin(2 * np.pi * 3 * hz * t))


def low_amplitude(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """An R wave of 0.1 mV (the whole ECG scaled by 1/11) over the same 8 uV noise."""
    rng = np.random.default_rng(seed)
    c = _sinus("amplitude_0.1mV", "R wave 0.1 mV", fs, duration_s, seed, rng=rng)
    clean = render(c.beat_s, c.label, duration_s, fs) / 11.0
    t = np.arange(len(clean)) / fs
    c.ecg = clean + 0.005 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, NOISE_MV, len(clean))
    return c


def inverted_lead(fs: float = 500.0, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Sinus rhythm recorded with the electrodes swapped (signal negated)."""
    return _sinus("inverted_lead", "inverted lead", fs, duration_s, seed,
                  lambda x, t: -x)


def rate(fs: float, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Sinus rhythm sampled at ``fs``."""
    return _sinus(f"rate_{fs:g}hz", f"sampled at {fs:g} Hz", fs, duration_s, seed)


def quantised_12bit(fs: float = 500.0, duration_s: float = 300.0,
                    seed: int = 0) -> StressCase:
    """Sinus rhythm through a 12-bit converter spanning +-5 mV (2.44 uV steps)."""
    step = 10.0 / 2 ** 12
    return _sinus("quantised_12bit", "12-bit quantisation over +-5 mV", fs, duration_s, seed,
                  lambda x, t: np.clip(np.round(x / step) * step, -5.0, 5.0 - step))


#: name -> builder(fs=..., duration_s=..., seed=...)
SCENARIOS: dict[str, Callable[..., StressCase]] = {
    "rsa_6_per_min": rsa_6_per_min,
    "sinus_pauses": sinus_pauses,
    "av_block_2to1": av_block_2to1,
    "bigeminy": bigeminy,
    "isolated_pvc_pac": isolated_pvc_pac,
    "atrial_fibrillation": atrial_fibrillation,
    "baseline_wander": baseline_wander,
    "electrode_motion": electrode_motion,
    "mains_50hz": partial(mains, 50.0),
    "mains_60hz": partial(mains, 60.0),
    "amplitude_0.1mV": low_amplitude,
    "inverted_lead": inverted_lead,
    "quantised_12bit": quantised_12bit,
    **{f"rate_{r}hz": partial(rate, float(r)) for r in (100, 250, 500, 1000, 2000)},
}
#: F1 target per scenario: 0.998, atrial fibrillation 0.995.
F1_TARGET = {name: (0.995 if name == "atrial_fibrillation" else 0.998) for name in SCENARIOS}


def stress_case(name: str, *, duration_s: float = 300.0, seed: int = 0) -> StressCase:
    """Build one named case (500 Hz unless the case is a sampling-rate case).

    Examples
    --------
    >>> c = stress_case("sinus_pauses", duration_s=60.0)
    >>> c.sampling_rate, len(c.ecg) == 60 * 500, bool(c.borders_pause.any())
    (500.0, True, True)
    """
    if name not in SCENARIOS:
        raise KeyError(f"unknown stress case {name!r}; known: {sorted(SCENARIOS)}")
    return SCENARIOS[name](duration_s=duration_s, seed=seed)


def match_beats(detected_s: np.ndarray, truth_s: np.ndarray,
                tol_s: float = 0.15) -> np.ndarray:
    """One-to-one match of sorted detections to sorted true beats within ``tol_s``.

    Returns
    -------
    numpy.ndarray
        Per true beat, the index of its detection or -1.

    Examples
    --------
    >>> match_beats(np.array([1.01, 2.5, 3.0]), np.array([1.0, 2.0, 3.0])).tolist()
    [0, -1, 2]
    """
    det = np.asarray(detected_s, float)
    out = np.full(len(truth_s), -1)
    i = j = 0
    while i < len(truth_s) and j < len(det):
        d = det[j] - truth_s[i]
        if abs(d) <= tol_s:
            out[i] = j
            i += 1
            j += 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return out


def score(case: StressCase, peaks_s: np.ndarray, corrected: np.ndarray | None = None,
          tol_s: float = 0.15) -> dict[str, float]:
    """F1 / Se / PPV of detections against the case's truth, the number of flagged beats
    whose true interval is normal-to-normal, and whether every pause-bordering beat is kept.

    Examples
    --------
    >>> c = stress_case("rsa_6_per_min", duration_s=30.0)
    >>> score(c, c.beat_s)["f1"]
    1.0
    """
    m = match_beats(peaks_s, case.beat_s, tol_s)
    tp = int((m >= 0).sum())
    fp, fn = len(peaks_s) - tp, len(case.beat_s) - tp
    out = {"n": len(case.beat_s), "tp": tp, "fp": fp, "fn": fn,
           "f1": 2 * tp / max(2 * tp + fp + fn, 1), "se": tp / max(tp + fn, 1),
           "ppv": tp / max(tp + fp, 1),
           "pause_borders_kept": bool((m[case.borders_pause] >= 0).all()),
           "n_pause_borders": int(case.borders_pause.sum())}
    if corrected is not None:
        hit = m >= 0
        prev_hit = np.r_[False, hit[:-1]] & np.r_[False, m[1:] == m[:-1] + 1]
        nn = case.normal & hit & prev_hit
        out["normal_flagged"] = int(np.asarray(corrected)[m[nn]].sum())
        out["normal_pairs"] = int(nn.sum())
    return out
