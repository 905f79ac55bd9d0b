"""Quality indices on real recordings: valid share per channel, breathing agreement, and
the sensitivity of every threshold that decides validity.

Inputs (``../shared/data`` or $SOOTHE_SHARED_DATA): ``real/`` (two NeuroKit2 lab recordings
at 100 Hz, PhysioNet drivedb ``drive05`` in WFDB), ``lab/`` (systole's Task1 at 1000 Hz) and
``mitdb/`` (MIT-BIH 100 106 108 113 121 223, MLII); plus synthetic cases with exact truth:
a drift-only "ECG" (no QRS) at 100/250/1000 Hz, a clean simulated ECG with one minute of
movement, skin conductance with electrode steps, and a belt that goes quiet.

Sections:

1. ECG: valid 60-s windows per recording, beats marked low quality (per MIT-BIH record,
   with their annotation symbols), and each ECG constant -/+ one step.
2. EDA: artefacts per channel, SCRs counted before and after bridging, SCRs within 1 s of
   an artefact before and after, steps found on a synthetic channel; constants -/+ a step.
3. Belt: valid windows, each counter against the consensus of the other two (count-adv,
   neurokit2 ``rsp_process``, soothe's hysteresis counter), quiet belt; constants -/+.
4. ECG-derived breathing: share reported, and within 1.5/min of the belt consensus (real)
   or the simulator's truth where reported, against soothe's combined EDR reported
   everywhere; its constants -/+ a step; fusion rules measured and not used.
5. Engines: HR and RMSSD agreement on windows both engines call valid, the neurokit2
   engine's moves of right beats undone; the timing-ambiguity and right-beat constants -/+.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_real_quality.py [--quick]
[--only ecg|eda|belt|edr|engines]``
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from physio.ecg import ecg_beats
from physio.ecg import ecg_quality as eq
from physio.eda import eda_artifacts as ea
from physio.eda.eda_process import eda_process
from physio.io.read_wfdb import read_wfdb
from physio.recording import Channel
from physio.rsp import ecg_rsp, rsp_breaths, rsp_clean
from physio.rsp import rsp_quality as rq
from physio.rsp.ecg_rsp import EDR_BAND_HZ
from physio.signal_quality import (
    belt_quality_table,
    ecg_quality_of,
    ecg_quality_table,
    eda_bridged_process,
    edr_quality_of,
    edr_quality_table,
)

DATA = Path(os.environ.get("SOOTHE_SHARED_DATA")
            or Path(__file__).resolve().parents[1].parent / "shared" / "data")
MITDB = ("100", "106", "108", "113", "121", "223")
CLEAN_SINUS = ("100", "113", "121")


@contextlib.contextmanager
def constant(module, name: str, value):
    """Set a module's public constant for the duration of a block (sensitivity runs)."""
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def drift_ecg(fs: float, seed: int, minutes: float = 10.0) -> np.ndarray:
    """Slow drift of +-1.5 mV plus white noise (0.02 mV): no QRS anywhere."""
    # lazy: only the synthetic cases need scipy.signal and the simulator
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    d = sosfiltfilt(butter(2, 0.3, fs=fs, output="sos"), np.cumsum(rng.normal(size=n)))
    d = 1.5 * (d - d.mean()) / np.abs(d - d.mean()).max()
    return d + rng.normal(0, 0.02, n)


def no_heart(kind: str, fs: float, seed: int = 3) -> np.ndarray:
    """10 min of a lead that carries no heart: mains pickup on drift, EMG, movement, white."""
    # lazy: only the synthetic cases need scipy.signal
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    n = int(600 * fs)
    t = np.arange(n) / fs
    if kind == "mains":
        hz = 50.0 if fs > 110 else 45.0  # below Nyquist at 100 Hz
        return 0.3 * np.sin(2 * np.pi * hz * t) + np.cumsum(rng.normal(0, 0.01, n))
    if kind == "white":
        return rng.normal(0, 0.1, n)
    band = [20.0, min(150.0, 0.45 * fs)] if kind == "emg" else [0.5, 8.0]
    return sosfiltfilt(butter(2, band, btype="bandpass", fs=fs, output="sos"),
                       rng.normal(size=n))


def movement_ecg(fs: float = 250.0, seed: int = 0) -> tuple[np.ndarray, float]:
    """A clean simulated sinus ECG (5 min) whose first minute carries movement."""
    # lazy: only the synthetic cases need scipy.signal and the simulator
    from scipy.signal import butter, sosfiltfilt

    # lazy: the simulator is needed by this synthetic case only
    from soothe.simulate.ecg_stress import stress_case

    case = stress_case(f"rate_{int(fs)}hz", duration_s=300.0, seed=seed)
    x = case.ecg.copy()
    rng = np.random.default_rng(seed)
    n = int(60 * fs)
    motion = sosfiltfilt(butter(2, [0.5, 8.0], btype="bandpass", fs=fs, output="sos"),
                         rng.normal(size=n))
    emg = sosfiltfilt(butter(2, [20.0, 0.45 * fs], btype="bandpass", fs=fs, output="sos"),
                      rng.normal(size=n))
    x[:n] += 1.5 * motion / motion.std() + 0.4 * emg / emg.std()
    return x, case.sampling_rate


def ecg_inputs(quick: bool) -> list[tuple[str, np.ndarray, float]]:
    """(name, ECG, rate) of every ECG the bench judges."""
    out = [(f"drift-only {fs} Hz seed {s}", drift_ecg(fs, s), float(fs))
           for fs in (100, 250, 1000) for s in range(1 if quick else 3)]
    out += [(f"no heart: {kind} {fs} Hz", no_heart(kind, fs), float(fs))
            for kind in ("mains", "emg", "movement", "white") for fs in (100, 250, 1000)]
    x, fs = movement_ecg()
    out.append(("simulated, movement in minute 1", x, fs))
    real = DATA / "real"
    for f in ("bio_resting_8min_100hz", "bio_eventrelated_100hz"):
        out.append((f, pd.read_csv(real / f"{f}.csv")["ECG"].to_numpy(float), 100.0))
    rec = read_wfdb(real / "drive05")
    out.append(("drive05", rec.channels["ECG"].data, rec.channels["ECG"].sampling_rate))
    lab = np.load(gzip.open(DATA / "lab" / "Task1_ECG.npy.gz"))
    out.append(("lab Task1", lab, 1000.0))
    for r in MITDB:
        m = read_wfdb(DATA / "mitdb" / r)
        out.append((f"mitdb {r}", m.channels["MLII"].data, 360.0))
    return out


def ecg_section(inputs) -> list[dict]:
    """Detect once, then judge the windows; returns what the sensitivity runs need."""
    print("\n== 1. ECG: valid 60-s windows (template correlation, Orphanidou 2015) ==")
    cases = []
    for name, x, fs in inputs:
        b = ecg_beats(x, fs)
        cleaned = eq.ecg_quality_input(x, fs)
        w = ecg_quality_table(Channel("ECG", x, fs, "mV", "ecg"), b)
        cases.append({"name": name, "x": x, "fs": fs, "beats": b, "cleaned": cleaned})
        bad = w.loc[~w["ecg_valid"], "ecg_reason"].str.split(" ").str[:3].str.join(" ")
        print(f"{name:34s} valid {int(w['ecg_valid'].sum()):3d}/{len(w):3d} "
              f"({w['ecg_valid'].mean():6.1%})  median quality "
              f"{w['ecg_quality'].median():.2f}  reasons {dict(bad.value_counts())}")
    return cases


def mitdb_low_quality_beats() -> None:
    """Beats marked low quality on the MIT-BIH records, with the annotation symbol."""
    # lazy: wfdb reads the reference annotations of this one section
    import wfdb

    print("\n-- beats marked low quality (MIT-BIH; annotation symbol of the nearest beat)")
    for r in MITDB:
        m = read_wfdb(DATA / "mitdb" / r)
        x = m.channels["MLII"].data
        b = ecg_beats(x, 360.0)
        q = eq.ecg_beat_quality(*eq.ecg_quality_input(x, 360.0), b.peaks_s,
                                b.beat_class)
        ann = wfdb.rdann(str(DATA / "mitdb" / r), "atr")
        t = ann.sample / 360.0
        low = np.flatnonzero(q["low_quality"].to_numpy())
        sym = [ann.symbol[int(np.argmin(np.abs(t - b.peaks_s[i])))] for i in low]
        tag = " (clean sinus record)" if r in CLEAN_SINUS else ""
        print(f"mitdb {r}{tag}: {len(low)} of {len(b.peaks_s)} beats low quality; "
              f"symbols {dict(pd.Series(sym).value_counts()) if sym else {}}")


def drive05_device_hr(cases: list[dict]) -> None:
    """drive05 carries the recorder's own heart rate: an independent check per minute."""
    case = next(c for c in cases if c["name"] == "drive05")
    hr = read_wfdb(DATA / "real" / "drive05").channels["HR"]
    b = case["beats"]
    w = ecg_quality_table(Channel("ECG", case["x"], case["fs"], "mV", "ecg"), b)
    rows = []
    for s, e, valid in zip(w.start_s, w.end_s, w.ecg_valid, strict=True):
        rr = np.diff(b.peaks_s[(b.peaks_s >= s) & (b.peaks_s < e)])
        ours = 60.0 / np.median(rr) if len(rr) else np.nan
        device = float(np.median(hr.data[int(s * hr.sampling_rate):int(e * hr.sampling_rate)]))
        rows.append((valid, abs(ours - device) <= 5.0, device == 0.0))
    a = np.array(rows, dtype=bool)
    print(f"\n-- drive05 vs the recorder's HR channel: valid minutes within 5 bpm of it "
          f"{int((a[:, 0] & a[:, 1]).sum())}/{int(a[:, 0].sum())}; minutes where the "
          f"recorder itself reads 0 bpm: {int(a[:, 2].sum())}, of them invalid here "
          f"{int((a[:, 2] & ~a[:, 0]).sum())}")


def bsqi(ours: np.ndarray, theirs: np.ndarray, start: float, end: float,
         tol: float = 0.15) -> float:
    """Li, Clifford & Mark (2008) bSQI: matched beats / (ours + theirs - matched)."""
    a = ours[(ours >= start) & (ours < end)]
    b = theirs[(theirs >= start) & (theirs < end)]
    if len(a) == 0 or len(b) == 0:
        return np.nan if len(a) + len(b) == 0 else 0.0
    j = np.searchsorted(b, a)
    lo, hi = b[np.clip(j - 1, 0, len(b) - 1)], b[np.clip(j, 0, len(b) - 1)]
    d = np.minimum(np.abs(a - lo), np.abs(a - hi))
    m = int((d <= tol).sum())
    return m / (len(a) + len(b) - m)


def bsqi_section(cases: list[dict]) -> None:
    """Range of the per-window bSQI of soothe's detector against nk.ecg_peaks."""
    # lazy: neurokit2 costs ~1 s to import; only this comparison needs it
    import neurokit2 as nk

    print("\n-- measured, not used: bSQI (soothe vs nk.ecg_peaks, +-150 ms), 60-s windows")
    for c in cases:
        if c["name"].startswith("no heart") or (c["name"].startswith("drift")
                                                and not c["name"].endswith("seed 0")):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, info = nk.ecg_peaks(nk.ecg_clean(c["x"], sampling_rate=c["fs"]),
                                   sampling_rate=c["fs"])
        theirs = np.asarray(info["ECG_R_Peaks"], dtype=float) / c["fs"]
        total = len(c["x"]) / c["fs"]
        v = np.array([bsqi(c["beats"].peaks_s, theirs, s, s + 60)
                      for s in np.arange(0, total - 30, 60)])
        v = v[np.isfinite(v) & (v > 0)]
        print(f"{c['name']:34s} bSQI {v.min():.2f}-{v.max():.2f} (median {np.median(v):.2f})")


def ecg_valid_share(case: dict) -> tuple[int, int]:
    """Valid windows of one case with the constants currently in force."""
    b = case["beats"]
    q = eq.ecg_beat_quality(*case["cleaned"], b.peaks_s, b.beat_class)
    total = len(case["x"]) / case["fs"]
    n = v = 0
    for s in np.arange(0.0, total - 30.0, 60.0):
        n += 1
        v += bool(eq.ecg_window_quality(b.peaks_s, q, s, min(s + 60, total))["ecg_valid"])
    return v, n


def ecg_sensitivity(cases: list[dict]) -> None:
    """Valid windows per group of inputs with each ECG constant -/+ one step."""
    print("\n-- ECG sensitivity: valid windows (no heart | movement sim | real+lab | MIT-BIH)")
    steps = {"WINDOW_CORR_MIN": (0.56, 0.66, 0.76), "BEAT_CORR_MIN": (0.4, 0.5, 0.6),
             "MAX_UNMATCHED_SHARE": (0.1, 0.2, 0.3), "MIN_COVERAGE": (0.4, 0.5, 0.6)}
    groups = {"drift": lambda n: n.startswith(("drift", "no heart")),
              "move": lambda n: n.startswith("simulated"),
              "real": lambda n: n.startswith(("bio_", "drive", "lab")),
              "mitdb": lambda n: n.startswith("mitdb")}
    for name, values in steps.items():
        cells = []
        for value in values:
            with constant(eq, name, value):
                shares = {g: np.sum([ecg_valid_share(c) for c in cases if f(c["name"])],
                                    axis=0) for g, f in groups.items()}
            cells.append(f"{value:g}: " + " | ".join(f"{v}/{n}" for v, n in shares.values()))
        print(f"{name:20s} " + "   ".join(cells))


def eda_inputs() -> list[tuple[str, np.ndarray, float]]:
    """(name, skin conductance in µS, rate) of every real EDA channel."""
    real = DATA / "real"
    out = [(f, pd.read_csv(real / f"{f}.csv")["EDA"].to_numpy(float), 100.0)
           for f in ("bio_resting_8min_100hz", "bio_eventrelated_100hz")]
    rec = read_wfdb(real / "drive05")
    for ch in ("foot GSR", "hand GSR"):
        out.append((f"drive05 {ch}", rec.channels[ch].data, rec.channels[ch].sampling_rate))
    out.append(("lab Task1", np.load(gzip.open(DATA / "lab" / "Task1_EDA.npy.gz")), 1000.0))
    return out


def stepped_eda(fs: float, seed: int, minutes: float = 10.0):
    """Simulated skin conductance with SCRs and electrode steps: (signal, step times)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, minutes * 60, 1 / fs)
    x = 5 + 0.3 * np.sin(2 * np.pi * t / 300) + rng.normal(0, 0.003, len(t))
    for s in rng.uniform(5, t[-1] - 10, int(minutes * 2)):
        x += 0.3 * np.where(t > s, (t - s) * np.exp(-(t - s) / 2.0), 0)
    steps = np.sort(rng.uniform(10, t[-1] - 10, 8))
    for k, s in enumerate(steps):
        x[t >= s] += (-1) ** k * rng.uniform(0.5, 4.0)  # up, down, up: stays in range
    return x, steps


def near(onset_s, peak_s, intervals, margin=1.0) -> int:
    """SCRs whose rise lies within ``margin`` s of an interval."""
    return int((~ea.scr_clear_of_artifacts(onset_s, peak_s, intervals, margin)).sum())


def eda_section() -> None:
    """Artefacts, SCR counts before/after, and synthetic steps found."""
    print("\n== 2. EDA: artefacts (range, slope; Kleckner 2018) and SCRs ==")
    for name, x, fs in eda_inputs():
        before = eda_process(x, fs, units="uS")
        res, bad, table = eda_bridged_process(Channel("EDA", x, fs, "uS", "eda"))
        valid = [ea.eda_window_quality(bad, s, s + 60)["eda_valid"]
                 for s in np.arange(0, len(x) / fs - 30, 60)]
        h = max(1, int(ea.SLOPE_SPAN_S * fs))
        clean = ea.eda_bridge(x, fs, bad)
        fastest = np.nanmax(np.abs(clean[h:] - clean[:-h])) * fs / h
        print(f"{name:26s} fastest change outside artefacts {fastest:5.2f} uS/s")
        print(f"{'':26s} artefacts {len(bad):3d} ({sum(b - a for a, b, _ in bad):6.1f} s)"
              f"  valid windows {sum(valid)}/{len(valid)}  SCRs before {len(before.scr_amp_us)}"
              f" (within 1 s of an artefact: {near(before.scr_onset_s, before.scr_peak_s, bad)})"
              f"  after {len(table)} (within 1 s: {near(table.onset_s, table.peak_s, bad)})")
    print("-- synthetic steps (0.5-4 µS between two samples), 10 min, 3 seeds per rate")
    for fs in (31.0, 100.0, 1000.0):
        found = total = scr_before = scr_after = 0
        for seed in range(3):
            x, steps = stepped_eda(fs, seed)
            bad = ea.eda_artifacts(x, fs)
            total += len(steps)
            found += sum(any(a <= s <= b for a, b, _ in bad) for s in steps)
            step_iv = [(s - 0.05, s + 0.05, "step") for s in steps]
            before = eda_process(x, fs, units="uS")
            scr_before += near(before.scr_onset_s, before.scr_peak_s, step_iv)
            _, _, table = eda_bridged_process(Channel("EDA", x, fs, "uS", "eda"))
            scr_after += near(table.onset_s.to_numpy(), table.peak_s.to_numpy(), step_iv)
        print(f"{fs:6.0f} Hz: steps found {found}/{total}; SCRs within 1 s of a step: "
              f"before {scr_before}, after {scr_after}")


def eda_sensitivity() -> None:
    """Artefact seconds per channel with each EDA constant -/+ one step."""
    print("\n-- EDA sensitivity: artefact intervals (seconds) per channel")
    inputs = eda_inputs()
    for name, values in {"max_slope": (5.0, 10.0, 20.0), "span_s": (0.02, 0.05, 0.1),
                         "pad_s": (0.5, 1.0, 2.0)}.items():
        cells = []
        for value in values:
            counts = []
            for _, x, fs in inputs:
                bad = ea.eda_artifacts(x, fs, **{name: value})
                counts.append(f"{len(bad)}({sum(b - a for a, b, _ in bad):.0f}s)")
            cells.append(f"{value:g}: " + " ".join(counts))
        print(f"{name:10s} " + "   ".join(cells))
    print("   (channels: " + ", ".join(n for n, _, _ in inputs) + ")")


def belt_inputs(quick: bool) -> list[tuple[str, np.ndarray, float]]:
    """(name, belt, rate): the real belts and synthetic ones without breathing."""
    real = DATA / "real"
    out = [(f, pd.read_csv(real / f"{f}.csv")["RSP"].to_numpy(float), 100.0)
           for f in ("bio_resting_8min_100hz", "bio_eventrelated_100hz")]
    rec = read_wfdb(real / "drive05")
    out.append(("drive05", rec.channels["RESP"].data, rec.channels["RESP"].sampling_rate))
    fs = 25.0
    t = np.arange(0, 600, 1 / fs)
    for seed in range(1 if quick else 3):
        rng = np.random.default_rng(seed)
        y = np.where(t < 180, np.sin(2 * np.pi * 0.25 * t + 0.3 * np.sin(0.06 * t)), 0.0)
        out.append((f"sim: quiet after 3 min, seed {seed}", y + rng.normal(0, 0.02, len(t)), fs))
        out.append((f"sim: noise only, seed {seed}", rng.normal(size=len(t)), fs))
        out.append((f"sim: brown noise, seed {seed}", np.cumsum(rng.normal(size=len(t))), fs))
    return out


def nk_troughs(x: np.ndarray, fs: float) -> np.ndarray:
    """Breath times of neurokit2's ``rsp_process`` (troughs); empty when it fails."""
    # lazy: neurokit2 costs ~1 s to import; only the reference counter needs it
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sig, _ = nk.rsp_process(x, sampling_rate=fs)
    except Exception:  # noqa: BLE001 - a failing third counter only leaves a gap
        return np.zeros(0)
    return np.flatnonzero(sig["RSP_Troughs"].to_numpy()) / fs


def consensus(a: float, b: float, tol: float = 1.0) -> float:
    """Mean of two rates that agree within ``tol``/min, else NaN (the issue's reference)."""
    return 0.5 * (a + b) if np.isfinite(a) and np.isfinite(b) and abs(a - b) <= tol else np.nan


def belt_rates(x: np.ndarray, fs: float) -> pd.DataFrame:
    """Per window: the three counters and the belt verdict."""
    w = belt_quality_table(Channel("RSP", x, fs, "", "rsp"))
    nkt = nk_troughs(x, fs)
    w["nk_bpm"] = [rq.window_rate(nkt, s, e) for s, e in zip(w.start_s, w.end_s, strict=True)]
    return w


def leave_one_out(w: pd.DataFrame) -> str:
    """Each counter within 1.5/min of the consensus of the other two."""
    cols = {"count-adv": "count_adv_bpm", "soothe": "soothe_bpm", "nk": "nk_bpm"}
    out = []
    for name, col in cols.items():
        a, b = [w[c] for c in cols.values() if c != col]
        ref = np.array([consensus(p, q) for p, q in zip(a, b, strict=True)])
        ok = np.isfinite(ref)
        hit = int((np.abs(w[col].to_numpy()[ok] - ref[ok]) <= 1.5).sum())
        out.append(f"{name} {hit}/{int(ok.sum())}")
    return ", ".join(out)


def belt_section(inputs) -> dict[str, pd.DataFrame]:
    """Valid belt windows, leave-one-out counter agreement."""
    print("\n== 3. Belt: valid windows; each counter vs the consensus of the other two ==")
    tables = {}
    for name, x, fs in inputs:
        w = belt_rates(x, fs)
        tables[name] = w
        reasons = w.loc[~w.belt_valid, "belt_reason"].str.split(" ").str[:3].str.join(" ")
        print(f"{name:32s} valid {int(w.belt_valid.sum()):2d}/{len(w):2d}  "
              f"{leave_one_out(w)}  reasons {dict(reasons.value_counts())}")
        print(f"{'':32s} {reported_vs_reference(w)}; band share "
              f"{w.belt_band_share.min():.2f}-{w.belt_band_share.max():.2f}")
    return tables


def reported_vs_reference(w: pd.DataFrame) -> str:
    """Reported rate (valid windows) and soothe's rate today against the issue's reference
    (count-adv and neurokit2 within 1/min) and against neurokit2 alone (independent)."""
    ref = np.array([consensus(p, q) for p, q in zip(w.count_adv_bpm, w.nk_bpm, strict=True)])
    rep = w.resp_rate_bpm.to_numpy()
    ok = np.isfinite(ref) & np.isfinite(rep)
    hit = int((np.abs(rep[ok] - ref[ok]) <= 1.5).sum())
    nk_ok = np.isfinite(rep) & np.isfinite(w.nk_bpm.to_numpy())
    nk_hit = int((np.abs(rep[nk_ok] - w.nk_bpm.to_numpy()[nk_ok]) <= 1.5).sum())
    has = np.isfinite(ref)
    now = int((np.abs(w.soothe_bpm.to_numpy()[has] - ref[has]) <= 1.5).sum())
    return (f"reported rate vs reference {hit}/{int(ok.sum())}, vs nk alone "
            f"{nk_hit}/{int(nk_ok.sum())}; soothe's belt rate today (every window) vs "
            f"reference {now}/{int(has.sum())}")


def belt_sensitivity(inputs) -> None:
    """Valid belt windows per input with each belt constant -/+ one step."""
    print("\n-- belt sensitivity: valid windows per input (order as above)")
    for name, values in {"MIN_AMPLITUDE_RATIO": (0.05, 0.1, 0.2),
                         "MIN_BAND_SHARE": (0.3, 0.5, 0.7), "AGREE_BPM": (1.0, 1.5, 2.0),
                         "COUNT_ADV_FRACTION": (0.2, 0.3, 0.4)}.items():
        cells = []
        for value in values:
            with constant(rq, name, value):
                cells.append(f"{value:g}: " + " ".join(
                    str(int(belt_quality_table(Channel("RSP", x, fs, "", "rsp")).belt_valid.sum()))
                    for _, x, fs in inputs))
        print(f"{name:20s} " + "   ".join(cells))


def edr_inputs() -> list[tuple[str, np.ndarray, float]]:
    """(name, ECG, rate) of the recordings that also have a belt."""
    real = DATA / "real"
    out = [(f, pd.read_csv(real / f"{f}.csv")["ECG"].to_numpy(float), 100.0)
           for f in ("bio_resting_8min_100hz", "bio_eventrelated_100hz")]
    rec = read_wfdb(real / "drive05")
    out.append(("drive05", rec.channels["ECG"].data, rec.channels["ECG"].sampling_rate))
    return out


def edr_sim_inputs(quick: bool) -> list[tuple[str, np.ndarray, float, pd.DataFrame]]:
    """(name, ECG, rate, truth windows) of simulated sessions with exact breathing truth:
    conditions that slow breathing and one that does not, at 100, 250 and 1000 Hz."""
    # lazy: the simulator is needed by these synthetic cases only
    from conditions.protocol import load_protocol
    from soothe.simulate.study import simulate_session

    cases = [("neutral", 250.0), ("body_scan", 100.0), ("rumination", 1000.0)]
    if not quick:
        cases += [("kindness_self", 250.0), ("positive_excitement", 100.0),
                  ("body_scan", 500.0)]
    out = []
    for i, (cond, fs) in enumerate(cases):
        s = simulate_session(load_protocol(), f"{i:03d}", cond, seed=7, index=i + 1, fs=fs)
        out.append((f"sim {cond} {fs:g} Hz", s.ecg_mv, fs, s.truth))
    return out


def edr_section(belts: dict[str, pd.DataFrame], quick: bool) -> None:
    """ECG-derived rate where its routes carry breathing, against the belt consensus (real)
    and the simulator's truth; then the rule's two constants -/+ one step."""
    print("\n== 4. ECG-derived breathing vs the belt consensus (count-adv & nk within 1/min) "
          "or the simulated truth ==")
    cases = []
    for name, x, fs in edr_inputs():
        w = belts[name]
        ref = np.array([consensus(p, q) for p, q in zip(w.count_adv_bpm, w.nk_bpm,
                                                          strict=True)])
        cases.append((name, x, fs, ecg_beats(x, fs), ref))
    for name, x, fs, truth in edr_sim_inputs(quick):
        cases.append((name, x, fs, ecg_beats(x, fs), truth))
    for name, x, fs, b, ref in cases:
        print(edr_line(name, x, fs, b, ref))
    print("-- sensitivity: reported (within 1.5/min where a reference exists); real: resting, "
          "event-related, drive05 | simulated, pooled")
    for const, values in {"MIN_PERIODICITY": (0.4, 0.5, 0.6, 0.7, 1.01),
                          "AGREE_BPM": (1.0, 1.5, 2.0)}.items():
        for value in values:
            with constant(rq, const, value):
                tallies = [edr_tally(x, fs, b, ref) for _, x, fs, b, ref in cases]
            real = [f"{r}/{n} ({h}/{k})" for r, n, k, h in tallies[:3]]
            sim = np.sum(tallies[3:], axis=0)
            tag = " (in force)" if value == getattr(rq, const) else ""
            tag += " (= no periodicity rule)" if const == "MIN_PERIODICITY" and value > 1 else ""
            print(f"{const} {value:g}{tag}: " + ", ".join(real)
                  + f" | {sim[0]}/{sim[1]} ({sim[3]}/{sim[2]})")


def edr_windows(x: np.ndarray, fs: float, b, ref) -> tuple[pd.DataFrame, np.ndarray]:
    """EDR verdict per window and its reference: the belt consensus of the bench's 60-s
    windows, or the simulator's truth windows (``start_s``, ``end_s`` on the ECG clock)."""
    if isinstance(ref, pd.DataFrame):
        q = edr_quality_of(b, Channel("ECG", x, fs, "mV", "ecg"))
        rows = [q.span(s, t) for s, t in zip(ref.start_s, ref.end_s, strict=True)]
        e = pd.DataFrame({"edr_rate_bpm": [r[0] for r in rows],
                          "edr_valid": [r[2] == "" for r in rows]})
        return e, ref.breathing_rate_bpm.to_numpy(float)
    e = edr_quality_table(b, Channel("ECG", x, fs, "mV", "ecg"))
    n = min(len(e), len(ref))
    return e.iloc[:n], np.asarray(ref[:n], float)


def edr_tally(x: np.ndarray, fs: float, b, ref) -> tuple[int, int, int, int]:
    """(reported, windows, reported with a reference, of them within 1.5/min)."""
    e, r = edr_windows(x, fs, b, ref)
    rep = e.edr_valid.to_numpy(bool)
    has = np.isfinite(r)
    hit = np.abs(e.edr_rate_bpm.to_numpy(float) - r) <= 1.5
    return int(rep.sum()), len(rep), int((rep & has).sum()), int((hit & rep & has).sum())


def edr_line(name: str, x: np.ndarray, fs: float, b, ref) -> str:
    """One recording's EDR figures, and soothe's combined EDR reported everywhere."""
    rep, n, k, h = edr_tally(x, fs, b, ref)
    e, r = edr_windows(x, fs, b, ref)
    starts = e.start_s if "start_s" in e else ref.start_s
    ends = e.end_s if "end_s" in e else ref.end_s
    combined = ecg_rsp(b.peaks_s, b.rr_ms, b.corrected, ecg=x, sampling_rate=fs)
    now = np.array([rq.window_rate(combined.onset_s, s, t)
                    for s, t in zip(starts, ends, strict=True)])
    has = np.isfinite(r)
    hit_now = int((np.abs(now - r)[has] <= 1.5).sum())
    return (f"{name:26s} reported {rep}/{n} ({rep / max(n, 1):.0%}); within 1.5/min of the "
            f"reference where reported {h}/{k}; combined EDR (every window) {hit_now}/"
            f"{int(has.sum())}")


def baseline_wander_breaths(x: np.ndarray, fs: float, b) -> np.ndarray:
    """Breaths of the baseline-wander modulation (Charlton et al. 2016: the mean of the QRS
    peak and trough at each beat), through soothe's EDR band and breath detector."""
    half = max(1, int(round(0.05 * fs)))
    pk = np.round(b.peaks_s * fs).astype(np.int64)
    seg = x[np.clip(pk[:, None] + np.arange(-half, half + 1), 0, len(x) - 1)]
    ok = ~np.asarray(b.corrected, bool)
    grid = np.arange(b.peaks_s[0], b.peaks_s[-1], 0.25)
    y = np.interp(grid, b.peaks_s[ok], 0.5 * (seg.max(axis=1) + seg.min(axis=1))[ok])
    clean = rsp_clean(y, 4.0, band_hz=EDR_BAND_HZ)
    return rsp_breaths(clean, 4.0, start_s=float(grid[0])).onset_s


def edr_alternatives(belts: dict[str, pd.DataFrame]) -> None:
    """Two fusion rules measured against the one in force (all three recordings pooled)."""
    print("\n-- EDR fusion rules, pooled over the three real recordings (windows with a "
          "reference)")
    tally = {"RSA & amplitude agree, else the one periodic route (in force)": [0, 0, 0],
             "RSA & amplitude within AGREE_BPM (before)": [0, 0, 0],
             "best agreeing pair of RSA, amplitude, baseline wander": [0, 0, 0],
             "Karlen 2013 smart fusion (SD of the three <= 4/min)": [0, 0, 0]}
    for name, x, fs in edr_inputs():
        b = ecg_beats(x, fs)
        onsets = [ecg_rsp(b.peaks_s, b.rr_ms, b.corrected, method="rsa").onset_s,
                  ecg_rsp(b.peaks_s, b.rr_ms, b.corrected, ecg=x, sampling_rate=fs,
                          method="amplitude").onset_s,
                  baseline_wander_breaths(x, fs, b)]
        belt = belts[name]
        in_force = edr_quality_table(b, Channel("ECG", x, fs, "mV", "ecg")).edr_rate_bpm
        for i, (s, e, ca, nkr) in enumerate(zip(belt.start_s, belt.end_s, belt.count_adv_bpm,
                                                belt.nk_bpm, strict=True)):
            ref = consensus(ca, nkr)
            if not np.isfinite(ref):
                continue
            r = np.array([rq.window_rate(t, s, e) for t in onsets])
            pairs = sorted((abs(r[i] - r[k]), 0.5 * (r[i] + r[k]))
                           for i, k in ((0, 1), (0, 2), (1, 2)) if np.isfinite(r[[i, k]]).all())
            rates = [float(in_force.iloc[i]) if i < len(in_force) else np.nan,
                     rq.edr_window_verdict(r[0], r[1])[0],
                     pairs[0][1] if pairs and pairs[0][0] <= rq.AGREE_BPM else np.nan,
                     float(np.mean(r)) if np.isfinite(r).all() and np.std(r) <= 4 else np.nan]
            for cell, v in zip(tally.values(), rates, strict=True):
                cell[0] += 1
                cell[1] += bool(np.isfinite(v))
                cell[2] += bool(np.isfinite(v) and abs(v - ref) <= 1.5)
    for rule, (n, rep, hit) in tally.items():
        print(f"{rule:56s} reported {rep}/{n} ({rep / max(n, 1):.0%}), within 1.5/min "
              f"{hit}/{rep} ({hit / max(rep, 1):.0%})")


def engine_windows(x: np.ndarray, fs: float) -> pd.DataFrame:
    """Per 60-s window: HR and RMSSD of both engines (without and with the differences of
    beats whose R-peak time is ambiguous excluded), each engine's HRV verdict and the ECG
    quality verdict on each engine's own beats."""
    # lazy: the neurokit2 engine imports neurokit2 (~1 s); only this section needs it
    from physio.engine_neurokit2 import nk_beat_series, nk_hrv_window
    from physio.hrv import hrv_window

    rows = []
    engines = {"soothe": (ecg_beats(x, fs), hrv_window),
               "nk": (nk_beat_series(x, fs), nk_hrv_window)}
    quality = {k: ecg_quality_of(Channel("ECG", x, fs, "mV", "ecg"), b)
               for k, (b, _) in engines.items()}
    table = {k: ecg_quality_table(Channel("ECG", x, fs, "mV", "ecg"), b)
             for k, (b, _) in engines.items()}
    apart = displaced_beats(engines["soothe"][0].peaks_s, engines["nk"][0].peaks_s)
    moves_undone = engines["nk"][0].info["n_moves_undone"]
    for i, (s, e) in enumerate(zip(table["soothe"].start_s, table["soothe"].end_s,
                                   strict=True)):
        row = {"displaced": int(((apart >= s) & (apart < e)).sum())}
        for k, (b, window) in engines.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                w = window(b, s, e)
                u = window(b, s, e, uncertain=quality[k].uncertain)
            row.update({f"{k}_hr": w["hr_bpm"], f"{k}_rmssd": w["rmssd_ms"],
                        f"{k}_rmssd_u": u["rmssd_ms"], f"{k}_hr_u": u["hr_bpm"],
                        f"{k}_corrected_pct": w["corrected_pct"],
                        f"{k}_excluded_more": u["excluded_diff_pct"] - w["excluded_diff_pct"],
                        f"{k}_valid_today": bool(w["ecg_valid"]),
                        f"{k}_valid": bool(w["ecg_valid"]) and bool(
                            table[k].ecg_valid.iloc[i]),
                        f"{k}_valid_u": bool(u["ecg_valid"]) and bool(
                            table[k].ecg_valid.iloc[i]),
                        f"{k}_ambiguous": int(quality[k].uncertain[
                            (b.peaks_s >= s) & (b.peaks_s < e)].sum())})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["nk_moves_undone"] = moves_undone
    return out


def displaced_beats(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Times of our beats that the other engine places 20-150 ms away (nearest beat)."""
    if len(theirs) < 2:
        return np.zeros(0)
    j = np.clip(np.searchsorted(theirs, ours), 1, len(theirs) - 1)
    d = np.minimum(np.abs(theirs[j] - ours), np.abs(theirs[j - 1] - ours))
    return ours[(d > 0.02) & (d < 0.15)]


def engine_section() -> None:
    """The engines' agreement on windows both call valid: today, with the ECG quality rule,
    and with the differences of beats whose R-peak time is ambiguous excluded."""
    print("\n== 5. Engines (soothe vs neurokit2) on windows both call valid ==")
    inputs = [(n, x, fs) for n, x, fs in ecg_inputs(True)
              if n.startswith(("bio_", "drive05", "lab"))]
    for name, x, fs in inputs:
        w = engine_windows(x, fs)
        for label, suffix, u in (("today", "_valid_today", ""), ("with ECG quality",
                                 "_valid", ""), ("+ ambiguous excl.", "_valid_u", "_u")):
            both = w[f"soothe{suffix}"] & w[f"nk{suffix}"]
            hr = (w[f"soothe_hr{u}"] - w[f"nk_hr{u}"]).abs()[both]
            rm = ((w[f"soothe_rmssd{u}"] - w[f"nk_rmssd{u}"]).abs()
                  / w[f"soothe_rmssd{u}"])[both]
            print(f"{name:26s} {label:17s} both valid {int(both.sum()):2d}/{len(w):2d}; HR within "
                  f"1 bpm {int((hr <= 1).sum())}/{int(both.sum())}, RMSSD within 10 % "
                  f"{int((rm <= 0.1).sum())}/{int(both.sum())} ({(rm <= 0.1).mean():.0%}); "
                  f"median {rm.median():.1%}, 90th pct {rm.quantile(0.9):.1%}")
            if not u:
                off = both & (rm > 0.1)
        print(f"{'':26s} neurokit2 moves of right beats undone: {w.attrs['nk_moves_undone']}")
        print(f"{'':26s} ambiguous R-peak times: soothe {int(w.soothe_ambiguous.sum())}, "
              f"neurokit2 {int(w.nk_ambiguous.sum())} beats; differences excluded beyond "
              f"today's, median (max) per window: soothe {w.soothe_excluded_more.median():.1f} "
              f"({w.soothe_excluded_more.max():.1f}) %, neurokit2 "
              f"{w.nk_excluded_more.median():.1f} ({w.nk_excluded_more.max():.1f}) %")
        if off.any():
            print(f"{'':26s} RMSSD > 10 % apart (with ECG quality) in {int(off.sum())} windows: "
                  f"beats the engines place 20-150 ms apart {sorted(w.displaced[off].tolist())} "
                  f"(in the agreeing windows: median {w.displaced[both & ~off].median():g}); "
                  f"corrected beats at most {w.soothe_corrected_pct[off].max():.1f} % (soothe), "
                  f"{w.nk_corrected_pct[off].max():.1f} % (neurokit2)")


def engine_sensitivity() -> None:
    """drive05 and lab agreement with each timing-ambiguity constant and each constant of
    the neurokit2 engine's right-beat rule (``undo_right_moves``) -/+ one step."""
    # lazy: the neurokit2 engine imports neurokit2 (~1 s); only this section needs it
    import physio.engine_neurokit2 as nke

    print("\n-- sensitivity: engines' RMSSD within 10 % with ambiguous beats excluded --")
    inputs = [(n, x, fs) for n, x, fs in ecg_inputs(True) if n.startswith(("drive05", "lab"))]
    steps = [(eq, "TIMING_RATIO", v) for v in (0.7, 0.8, 0.9)]
    steps += [(eq, "TIMING_SEP_S", (0.02, v)) for v in (0.08, 0.12)]
    steps += [(eq, "TIMING_SEP_S", (v, 0.10)) for v in (0.015, 0.03)]
    steps += [(eq, "TIMING_OWN_S", v) for v in (0.01, 0.02)]
    steps += [(nke, "BEAT_CORR_MIN", v) for v in (0.3, 0.7)]
    steps += [(nke, "PREMATURE_FRACTION", v) for v in (0.1, 0.2)]
    steps += [(nke, "MAX_MOVE_FRACTION", v) for v in (0.3, 0.7)]
    steps += [(nke, "MAX_MOVE_FRACTION", 0.0)]  # no move undone: neurokit2's correction
    for module, name, value in steps:
        with constant(module, name, value):
            cells = []
            for rec, x, fs in inputs:
                w = engine_windows(x, fs)
                both = w.soothe_valid_u & w.nk_valid_u
                rm = ((w.soothe_rmssd_u - w.nk_rmssd_u).abs() / w.soothe_rmssd_u)[both]
                cells.append(f"{rec} {int((rm <= 0.1).sum())}/{int(both.sum())} (ambiguous "
                             f"{int(w.soothe_ambiguous.sum())}/{int(w.nk_ambiguous.sum())}, "
                             f"undone {w.attrs['nk_moves_undone']})")
        print(f"{name} = {value}: " + "; ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed per synthetic case")
    parser.add_argument("--no-sensitivity", action="store_true")
    parser.add_argument("--only", choices=("ecg", "eda", "belt", "edr", "engines"),
                        action="append", help="run only these sections (repeatable; "
                        "edr runs the belt section too, for its reference)")
    args = parser.parse_args(argv)
    if not (DATA / "real").is_dir():
        print(f"shared data not found at {DATA}")
        return 1
    only = set(args.only or ("ecg", "eda", "belt", "edr", "engines"))
    sens = not args.no_sensitivity
    if "ecg" in only:
        cases = ecg_section(ecg_inputs(args.quick))
        mitdb_low_quality_beats()
        drive05_device_hr(cases)
        bsqi_section(cases)
        if sens:
            ecg_sensitivity(cases)
        del cases
    if "eda" in only:
        eda_section()
        if sens:
            eda_sensitivity()
    if only & {"belt", "edr"}:
        belts_in = belt_inputs(args.quick)
        belts = belt_section(belts_in)
        if sens and "belt" in only:
            belt_sensitivity(belts_in)
        if "edr" in only:
            edr_section(belts, args.quick)
            edr_alternatives(belts)
    if "engines" in only:
        engine_section()
        if sens:
            engine_sensitivity()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
