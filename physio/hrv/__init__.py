"""HRV per window: mean HR, RMSSD, SDNN, HF power, with Task Force (1996) validity rules.

Choices (the measurements behind them are in ``docs/ecg-hrv.md``, sections 4 and 8):

* **RMSSD** uses only successive differences of two unflagged (normal-to-normal) intervals
  rather than the interpolated values.
* **HF** = cubic-spline interpolation of RR at 4 Hz + Welch (Hann), integrated over
  0.15-0.40 Hz: linear interpolation low-passes the series and loses HF power; Lomb-Scargle
  is as accurate but its PSD scaling is less standard.
* **Validity by events**: RMSSD/SDNN/HF NaN when more than 25 % of the window's successive
  differences are excluded (flagged interval or gap) or fewer than 20 remain; HR kept up to
  20 % flagged beats; HF needs >= 120 s (``min_hf_window_s``) and >= 40 intervals; lengths
  compared within 1 ms; no value for a window shorter than 50 s (a partial remainder).
"""

from physio.hrv.hrv_window import KEYS, hf_power, hrv_window

__all__ = ["KEYS", "hf_power", "hrv_window"]
