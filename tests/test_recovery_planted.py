"""The pipeline recovers the simulator's truth per minute: HR within 1 bpm, RMSSD and
ln RMSSD within 10 %, ln HF within 10 % (where the pipeline reports HF: 60-s windows, or
the phases table once HF moves there), SCL within 0.1 µS and breathing rate within
0.5 breaths/min, on a simulated 1000 Hz participant with the default (realistic) noise:
baseline wander, mains hum, ectopic beats, electrode bursts, motion artefacts.

The truth comes from the generative model of ``soothe.simulate`` (latent drives), with
the pipeline's own HRV estimator applied to the true beats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conditions.bids import WINDOWS_COLUMNS, iter_sessions, read_tsv
from physio.batch import process_file


@pytest.fixture(scope="module", params=[11, 12])
def recovered(request, tmp_path_factory):
    from soothe.simulate import simulate_study

    raw = tmp_path_factory.mktemp(f"raw{request.param}")
    simulate_study(raw, 1, seed=request.param, fs=1000.0)
    session = next(iter_sessions(raw))
    deriv = raw / "derivatives" / "soothe"
    res = process_file(str(session.physio_tsv_gz), str(deriv))
    assert res["status"] == "ok", res
    ours = read_tsv(Path(res["windows"]), WINDOWS_COLUMNS)
    truth = read_tsv(session.ground_truth("minutes"))
    merged = ours.merge(truth, on=["phase", "window"], suffixes=("", "_true"))
    # only full windows whose start agrees with the truth's (the same minute of the protocol)
    merged = merged[np.isclose(merged.start_s, merged.start_s_true, atol=0.05)
                    & np.isclose(merged.end_s, merged.end_s_true, atol=0.05)]
    merged.attrs["session"] = session
    merged.attrs["deriv"] = deriv
    return merged


def test_every_planted_minute_is_compared(recovered):
    for phase, n in (("baseline", 5), ("induction", 11), ("recovery", 5)):
        assert (recovered.phase == phase).sum() == n


def test_hr_within_1_bpm(recovered):
    ok = recovered[recovered.ecg_valid.astype(bool)]
    assert len(ok) >= 0.9 * len(recovered)
    err = (ok.hr_bpm - ok.hr_bpm_true).abs()
    assert err.max() <= 1.0, ok.loc[err.idxmax(), ["phase", "window", "hr_bpm", "hr_bpm_true"]]


def test_rmssd_within_10_percent(recovered):
    ok = recovered[recovered.ecg_valid.astype(bool)]
    rel = ((ok.rmssd_ms - ok.rmssd_ms_true) / ok.rmssd_ms_true).abs()
    assert rel.max() <= 0.10, ok.loc[rel.idxmax(), ["phase", "window", "rmssd_ms",
                                                     "rmssd_ms_true"]]


def test_scl_within_0_1_us(recovered):
    ok = recovered[recovered.eda_valid.astype(bool)]
    assert len(ok) >= 0.9 * len(recovered)
    err = (ok.scl_us - ok.scl_us_true).abs()
    assert err.max() <= 0.1, ok.loc[err.idxmax(), ["phase", "window", "scl_us", "scl_us_true"]]


def test_ln_rmssd_within_10_percent(recovered):
    ok = recovered[recovered.ecg_valid.astype(bool)]
    ours = np.log(ok.rmssd_ms.astype(float))
    rel = ((ours - ok.lnrmssd_true) / ok.lnrmssd_true).abs()
    assert rel.max() <= 0.10, ok.loc[rel.idxmax(), ["phase", "window", "rmssd_ms",
                                                     "rmssd_ms_true"]]
    # in the log the error is an absolute one: at most ln(1.1) (RMSSD within 10 %)
    assert (ours - ok.lnrmssd_true).abs().max() <= np.log(1.1)


def test_ln_hf_within_10_percent(recovered):
    """ln HF within 10 % of the truth wherever the pipeline reports HF."""
    ok = recovered[recovered.hf_valid.astype(bool) & recovered.lnhf_true.notna()]
    if len(ok) >= 5:
        rel = ((ok.lnhf - ok.lnhf_true) / ok.lnhf_true).abs()
        assert rel.max() <= 0.10, ok.loc[rel.idxmax(), ["phase", "window", "lnhf",
                                                         "lnhf_true"]]
        return
    session, deriv = recovered.attrs["session"], recovered.attrs["deriv"]
    phases_path = session.phases_tsv(deriv) if hasattr(session, "phases_tsv") else None
    if phases_path is None or not phases_path.is_file():
        pytest.skip("the pipeline reports HF neither in 60-s windows nor in a phases table")
    ours = read_tsv(phases_path)
    truth = read_tsv(session.ground_truth("phases"))
    m = ours.merge(truth, on="phase", suffixes=("", "_true"))
    m = m[np.isfinite(m.lnhf.astype(float)) & np.isfinite(m.lnhf_true.astype(float))]
    assert len(m) >= 3, m
    rel = ((m.lnhf.astype(float) - m.lnhf_true) / m.lnhf_true).abs()
    assert rel.max() <= 0.10, m[["phase", "lnhf", "lnhf_true"]]


def test_breathing_rate_within_half_a_breath_per_minute(recovered):
    rate = recovered.resp_rate_bpm.astype(float)
    if rate.isna().all():
        pytest.skip("the pipeline does not estimate breathing yet (resp_rate_bpm all NaN): "
                    "the respiration reader (issue 11) has not landed")
    ok = recovered[rate.notna() & ~recovered.partial.astype(bool)]
    assert len(ok) >= 0.9 * len(recovered[~recovered.partial.astype(bool)])
    err = (ok.resp_rate_bpm.astype(float) - ok.breathing_rate_bpm).abs()
    assert err.max() <= 0.5, ok.loc[err.idxmax(), ["phase", "window", "resp_rate_bpm",
                                                    "breathing_rate_bpm"]]
