"""The breathing rule for HF power: HF is only a vagal index when breathing is in the band.

RSA sits at the breathing frequency. HF power (0.15-0.40 Hz) captures it only when the
breathing rate is between 9 and 24 breaths/min; slower breathing (meditation, body scans,
paced breathing at 6/min) moves RSA into the LF band, so HF falls while vagal activity
rises (Laborde et al., 2017, Front. Psychol. 8:213). In such a window or phase HF is NaN
with the reason ``breathing below the HF band`` (or ``above``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Breathing rates (breaths/min) inside the HF band: 0.15-0.40 Hz x 60. Written out (not
#: imported from physio.hrv.hrv_window, which pulls in the whole ECG chain); a test checks
#: that it equals 60 x physio.hrv.hrv_window.HF_BAND_HZ.
HF_BREATHING_BPM = (9.0, 24.0)


def apply_breathing_rule(row: dict[str, Any], rate_bpm: float,
                         band_bpm: tuple[float, float] = HF_BREATHING_BPM) -> dict[str, Any]:
    """Set HF (``hf_ms2``, ``lnhf``) to NaN with a reason when breathing is outside the band.

    ``row`` is changed in place and returned. A row without a valid HF, or without a
    breathing rate (NaN: no belt and no usable ECG-derived estimate), is left as it is.

    Examples
    --------
    >>> row = {"hf_ms2": 500.0, "lnhf": 6.2, "hf_valid": True, "hf_reason": ""}
    >>> apply_breathing_rule(row, 6.5)["hf_reason"]
    'breathing below the HF band (median 6.5/min < 9/min)'
    >>> row["hf_ms2"], row["hf_valid"]
    (nan, False)
    """
    if not row.get("hf_valid") or not np.isfinite(rate_bpm):
        return row
    lo, hi = band_bpm
    if rate_bpm < lo:
        reason = f"breathing below the HF band (median {rate_bpm:.1f}/min < {lo:g}/min)"
    elif rate_bpm > hi:
        reason = f"breathing above the HF band (median {rate_bpm:.1f}/min > {hi:g}/min)"
    else:
        return row
    row.update(hf_ms2=float("nan"), lnhf=float("nan"), hf_valid=False, hf_reason=reason)
    return row
