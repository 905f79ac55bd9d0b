"""HRV per window: mean HR, RMSSD, SDNN, HF power, with Task Force (1996) validity rules."""

from physio.hrv.hrv_window import KEYS, hf_power, hrv_window

__all__ = ["KEYS", "hf_power", "hrv_window"]
