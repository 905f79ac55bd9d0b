"""HRV per window: mean HR, RMSSD, SDNN, HF power, with Task Force (1996) validity rules.

Choices, by measurement (``bench/bench_ecg_accuracy.py``, ``tests/test_hrv_window.py``):

* **RMSSD** uses only successive differences of two uncorrected intervals (the NN definition)
  rather than the interpolated values: median |error| 0.14 ms vs 0.48 ms over the valid
  5-min windows of MIT-BIH 100/113/121 against RMSSD of the annotated normal beats.
* **HF** = cubic-spline interpolation of RR at 4 Hz + Welch (Hann), integrated over
  0.15-0.40 Hz: 98-100 % of a known 0.25 Hz modulation's power (linear interpolation: 76 %,
  60 % at 0.35 Hz; Lomb-Scargle: as good as the spline but less standard scaling).
* **Validity**: HRV NaN above 5 % corrected beats (configurable), HR kept up to 20 %;
  HF needs >= 60 s and >= 40 intervals; everything NaN below 80 % coverage or 10 intervals.
"""

from physio.hrv.hrv_window import KEYS, hf_power, hrv_window

__all__ = ["KEYS", "hf_power", "hrv_window"]
