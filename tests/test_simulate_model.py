"""The simulator's generative model obeys the body's coherence rules.

Each rule is checked on the generated beats / signals themselves (measured with the
pipeline's own estimators), not only on the analytic formulas:

* raising HR at a fixed vagal drive (fixed RSA amplitude) lowers RMSSD;
* breathing slower than 9/min moves the RSA's power below the HF band (into LF);
* SCL and the SCR rate rise together under sympathetic drive;
* about 12 % of participants are EDA non-responders;
* ``--time-course saturating`` reaches most of the effect by minute 5.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import signal as sps

from conditions.protocol import load_protocol
from physio.hrv.hrv_window import hf_power, hrv_window
from soothe.simulate import effects
from soothe.simulate import physiology as phys
from soothe.simulate.eda_synth import draw_scrs, eda_tonic
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import draw_participant
from soothe.simulate.physiology import rsa_amplitude_at_rest
from soothe.simulate.rr import generate_beats
from soothe.simulate.timeline import build_timeline
from soothe.simulate.truth import sinus_beats

PROTOCOL = load_protocol()


def _person(condition="neutral", seed=3, **baseline):
    rng = np.random.default_rng(seed)
    tl = build_timeline(PROTOCOL, condition, rng)
    m = draw_participant(condition, rng)
    if baseline:
        m = replace(m, baseline={**m.baseline, **baseline})
    return tl, m


def _baseline_hrv(tl, m, seed=5):
    beats = generate_beats(m, tl, np.random.default_rng(seed), NoiseOptions.none())
    span = tl.phase("baseline")
    return beats, hrv_window(sinus_beats(beats), span.window_start_s, span.window_end_s)


def test_faster_heart_at_fixed_vagal_drive_gives_lower_rmssd():
    tl, slow = _person(hr_bpm=60.0, breathing_rate_bpm=15.0)
    fast = replace(slow, baseline={**slow.baseline, "hr_bpm": 90.0})
    assert fast.rsa_amp_ms == slow.rsa_amp_ms  # the same vagal drive and RSA amplitude
    _, h_slow = _baseline_hrv(tl, slow)
    _, h_fast = _baseline_hrv(tl, fast)
    assert h_fast["hr_bpm"] > h_slow["hr_bpm"] + 20
    assert h_fast["rmssd_ms"] < 0.85 * h_slow["rmssd_ms"]
    # and by the amount the sampled-sinusoid formula says (within 10 %)
    want = phys.rmssd_expected(slow.rsa_amp_ms, 90.0, 15.0) / phys.rmssd_expected(
        slow.rsa_amp_ms, 60.0, 15.0)
    assert h_fast["rmssd_ms"] / h_slow["rmssd_ms"] == pytest.approx(float(want), rel=0.1)


def test_vagal_drive_raises_rmssd_and_hf_at_fixed_heart_rate():
    tl, m = _person(hr_bpm=70.0, breathing_rate_bpm=15.0)
    more = replace(m, rsa_amp_ms=m.rsa_amp_ms * np.exp(0.3))
    _, a = _baseline_hrv(tl, m)
    _, b = _baseline_hrv(tl, more)
    assert b["rmssd_ms"] > 1.15 * a["rmssd_ms"]
    assert b["lnhf"] - a["lnhf"] == pytest.approx(0.6, abs=0.15)  # HF ~ A^2
    assert abs(b["hr_bpm"] - a["hr_bpm"]) < 0.5


def _band_power(beats, start, end, band):
    keep = (beats.times_s >= start) & (beats.times_s < end) & np.isfinite(beats.rr_ms)
    t, rr = beats.times_s[keep], beats.rr_ms[keep]
    grid = np.arange(start, end, 0.25)
    y = sps.detrend(np.interp(grid, t, rr))
    f, p = sps.welch(y, fs=4.0, nperseg=min(len(y), 480))
    sel = (f >= band[0]) & (f < band[1])
    return float(np.trapezoid(p[sel], f[sel]))


def test_breathing_below_9_per_min_moves_rsa_power_below_the_hf_band():
    tl, m = _person(hr_bpm=65.0, breathing_rate_bpm=15.0)
    slow = replace(m, baseline={**m.baseline, "breathing_rate_bpm": 6.0},
                   rsa_amp_ms=m.rsa_amp_ms)
    span = tl.phase("baseline")
    b15, _ = _baseline_hrv(tl, m)
    b6, _ = _baseline_hrv(tl, slow)
    pb15, pb6 = sinus_beats(b15), sinus_beats(b6)
    hf15 = hf_power(pb15.peaks_s[1:], pb15.rr_ms[1:], span.window_start_s, span.window_end_s)
    hf6 = hf_power(pb6.peaks_s[1:], pb6.rr_ms[1:], span.window_start_s, span.window_end_s)
    assert hf6 < 0.2 * hf15
    lf = (0.04, 0.15)
    assert _band_power(b6, span.window_start_s, span.window_end_s, lf) > 3 * _band_power(
        b15, span.window_start_s, span.window_end_s, lf)
    assert float(phys.hf_expected(20.0, 8.5)) < 0.05 * float(phys.hf_expected(20.0, 9.5))


def test_scl_and_scr_rate_rise_together_under_sympathetic_drive():
    tl, m = _person("positive_excitement")
    m = replace(m, eda_responder=True, scr_rate_per_min=2.0)
    calm = replace(m, drive_slopes={**m.drive_slopes, "sympathetic": -0.03})
    aroused = replace(m, drive_slopes={**m.drive_slopes, "sympathetic": 0.08})
    on, off = tl.audio_onset_s, tl.audio_offset_s
    late = np.arange(on + 300.0, off, 0.5)
    counts, levels = [], []
    for model in (calm, aroused):
        scrs = draw_scrs(model, tl, np.random.default_rng(9))
        onsets = scrs["onset_s"].to_numpy()
        counts.append(int(((onsets >= on + 300) & (onsets < off)).sum()))
        levels.append(float(eda_tonic(model, tl, late).mean()))
    assert levels[1] > levels[0] + 0.3
    assert counts[1] > 1.5 * counts[0]


def test_about_one_in_eight_is_an_eda_non_responder():
    rng = np.random.default_rng(4)
    models = [draw_participant("neutral", rng) for _ in range(600)]
    frac = np.mean([not m.eda_responder for m in models])
    assert 0.08 <= frac <= 0.16, frac
    non = [m for m in models if not m.eda_responder]
    assert max(m.scr_rate_per_min for m in non) < 0.2
    assert np.median([m.baseline["scl_us"] for m in non]) < 1.5
    none = [draw_participant("neutral", rng, non_responder_fraction=0.0) for _ in range(50)]
    assert all(m.eda_responder for m in none)


def test_saturating_time_course_reaches_most_of_the_effect_by_minute_5():
    from soothe.simulate.participant import induction_course

    tl, m = _person("positive_excitement")
    sat = replace(m, time_course="saturating")
    t = tl.audio_onset_s + 60.0 * np.array([5.0, 11.0 - 1e-6])
    lin5, lin11 = induction_course(m, tl, t, 0.05)
    sat5, sat11 = induction_course(sat, tl, t, 0.05)
    assert lin5 / lin11 == pytest.approx(5 / 11, abs=1e-3)
    assert sat5 / sat11 > 0.8
    assert sat11 == pytest.approx(lin11, rel=1e-3)
    # the implied linear slope of the saturating course is smaller than the linear one
    s_lin = effects.implied_index_slopes("linear")["hr_bpm"]["positive_excitement"]
    s_sat = effects.implied_index_slopes("saturating")["hr_bpm"]["positive_excitement"]
    assert 0.5 * s_lin < s_sat < 0.9 * s_lin


def test_excitement_implies_hr_up_and_no_vagal_gain():
    s = effects.implied_index_slopes()
    assert s["hr_bpm"]["positive_excitement"] > 0.2
    assert s["ln_rmssd"]["positive_excitement"] < 0  # faster heart, same RSA: lower RMSSD
    assert s["lnhf"]["positive_excitement"] == 0.0
    assert s["scl_us"]["positive_excitement"] > 0
    assert s["breathing_rate_bpm"]["kindness_self"] < 0  # meditation slows breathing


def test_rsa_amplitude_at_rest_inverts_the_rmssd_formula():
    a0 = rsa_amplitude_at_rest(45.0, 66.0, 13.0)
    assert float(phys.rmssd_expected(a0, 66.0, 13.0)) == pytest.approx(45.0, rel=1e-9)


def test_simulate_cli_options_reach_the_model(tmp_path):
    import json

    from soothe.simulate.cli import main

    out = tmp_path / "sim"
    assert main(["--participants", "1", "--seed", "2", "--out", str(out), "--fs", "100",
                 "--quiet", "--time-course", "saturating", "--non-responders", "0",
                 "--ectopic-per-min", "0.2", "--bursts-per-hour", "0"]) == 0
    doc = json.loads((out / "sourcedata" / "ground_truth" / "planted_effects.json").read_text())
    sim = doc["simulation"]
    assert sim["time_course"] == "saturating" and sim["non_responder_fraction"] == 0.0
    assert sim["noise"]["ectopic_per_min"] == 0.2 and sim["noise"]["bursts_per_hour"] == 0.0
    assert doc["physiology"]["slopes_per_minute"] == effects.implied_index_slopes("saturating")
    with pytest.raises(SystemExit):
        main(["--participants", "1", "--seed", "2", "--out", str(out), "--time-course", "x"])
    from soothe.simulate.study import SimulationError

    with pytest.raises(SimulationError, match="ectopic-per-min"):
        main(["--participants", "1", "--seed", "2", "--out", str(tmp_path / "y"),
              "--ectopic-per-min", "-1"])
