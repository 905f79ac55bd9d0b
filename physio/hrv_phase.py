"""The phase-level table: HR, ln RMSSD, HF and ln HF, breathing and EDA per protocol phase.

HF power needs a long stretch (Task Force, 1996: 1 min absolute minimum, 5 min the
short-term standard) and breathing inside the HF band (Laborde et al., 2017). The per-minute
vagal index is therefore ln RMSSD (windows table); HF is reported here, once per phase (the
5-min baseline, the whole induction, recovery), with the phase's median breathing rate
beside it and the breathing rule of :func:`physio.rsp.apply_breathing_rule` applied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import PHASES_COLUMNS
from physio.rsp.hf_rule import apply_breathing_rule

#: What the sidecar says about the vagal indices.
VAGAL_INDEX = {
    "primary": "lnrmssd",
    "primary_why": "ln RMSSD is the per-minute vagal index: RMSSD is valid in short "
                   "segments and far less affected by breathing rate than HF (Laborde, "
                   "Mosley & Thayer, 2017, Front. Psychol. 8:213)",
    "secondary": ["hf_ms2", "lnhf"],
    "secondary_why": "HF power (0.15-0.40 Hz) per phase and in windows >= the HF minimum "
                     "length only (Task Force of the ESC and NASPE, 1996: ~1 min absolute "
                     "minimum, 5 min standard), and NaN when the median breathing rate is "
                     "outside 9-24 breaths/min, where RSA leaves the HF band",
}


def phase_table(
    phases: list[Any],
    ids: dict[str, str],
    *,
    hrv: Any = None,
    rsp: Any = None,
    eda: Any = None,
    ecg_reason: str = "",
    eda_reason: str = "",
) -> pd.DataFrame:
    """One row per phase with every column of ``conditions.bids.PHASES_COLUMNS``.

    Parameters
    ----------
    phases : list of PhaseSpan
        ``name``, ``start_s``, ``end_s`` on the session clock.
    ids : dict
        ``participant_id``, ``session``, ``condition``.
    hrv, rsp, eda : callable, optional
        ``f(start_s, end_s) -> dict`` giving the HRV (``physio.hrv.hrv_window`` keys),
        breathing (``physio.rsp.rsp_window`` keys) and EDA (``physio.eda.eda_window``
        keys) of a span; None when the signal is absent (values NaN with the reason).

    Examples
    --------
    >>> from physio.phases import PhaseSpan
    >>> t = phase_table([PhaseSpan("baseline", 0.0, 300.0)],
    ...                 {"participant_id": "sub-1", "session": "1", "condition": "n/a"},
    ...                 ecg_reason="no ECG channel")
    >>> t.loc[0, "phase"], t.loc[0, "ecg_reason"], t.loc[0, "resp_source"]
    ('baseline', 'no ECG channel', 'n/a')
    """
    rows = []
    for p in phases:
        a, b = float(p.start_s), float(p.end_s)
        row: dict[str, Any] = {**ids, "phase": p.name, "start_s": a, "end_s": b}
        if hrv is not None:
            row.update(hrv(a, b))
        else:
            row.update(ecg_valid=False, ecg_reason=ecg_reason, hf_valid=False,
                       hf_reason=ecg_reason)
        r = rsp(a, b) if rsp is not None else {}
        row.update(resp_rate_bpm=r.get("resp_rate_bpm", np.nan),
                   resp_amplitude=r.get("resp_amplitude", np.nan),
                   resp_source=r.get("resp_source", "n/a"))
        apply_breathing_rule(row, row["resp_rate_bpm"])
        if eda is not None:
            row.update(eda(a, b))
        else:
            row.update(eda_valid=False, eda_reason=eda_reason)
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(PHASES_COLUMNS))
    if len(table):
        with np.errstate(divide="ignore", invalid="ignore"):
            table["lnrmssd"] = np.log(pd.to_numeric(table["rmssd_ms"]).astype(float))
    table["resp_source"] = table["resp_source"].fillna("n/a")
    return table
