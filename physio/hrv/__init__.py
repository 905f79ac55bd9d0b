"""HRV per window: mean HR, RMSSD, SDNN, HF power, with Task Force (1996) validity rules.

Choices, by measurement (``bench/bench_ecg_accuracy.py``, ``tests/test_hrv_window.py``):

* **RMSSD** uses only successive differences of two unflagged (normal-to-normal) intervals
  rather than the interpolated values: over the 60-s windows of MIT-BIH 100/113/121 median
  |error| 0.27 ms, max 2.3 ms against RMSSD of the annotated normal beats.
* **HF** = cubic-spline interpolation of RR at 4 Hz + Welch (Hann), integrated over
  0.15-0.40 Hz: 98-100 % of a known 0.25 Hz modulation's power (linear interpolation: 76 %,
  60 % at 0.35 Hz; Lomb-Scargle: as good as the spline but less standard scaling).
* **Validity by events**: RMSSD/SDNN/HF NaN when more than 25 % of the window's successive
  differences are excluded (flagged interval or gap) or fewer than 20 remain; HR kept up to
  20 % flagged beats; HF needs >= 120 s (``min_hf_window_s``) and >= 40 intervals; lengths
  compared within 1 ms; no value for a window shorter than 50 s (a partial remainder).
"""

from physio.hrv.hrv_window import KEYS, hf_power, hrv_window

__all__ = ["KEYS", "hf_power", "hrv_window"]
