"""ECG: R-peak detection and a corrected RR series for heart rate and HRV.

``ecg_beats(signal, sampling_rate) -> BeatSeries`` is the one entry point; each step is also
callable alone (``ecg_clean``, ``detect_qrs``, ``ecg_polarity``, ``ecg_fixpeaks``,
``ecg_bad_segments``).
"""

from physio.ecg.ecg_beats import BeatSeries, ecg_beats
from physio.ecg.ecg_clean import ecg_clean, ecg_detection_signal
from physio.ecg.ecg_fixpeaks import ecg_fixpeaks
from physio.ecg.ecg_peaks import detect_qrs
from physio.ecg.ecg_polarity import ecg_polarity
from physio.ecg.ecg_segments import ecg_bad_segments

__all__ = [
    "BeatSeries",
    "detect_qrs",
    "ecg_bad_segments",
    "ecg_beats",
    "ecg_clean",
    "ecg_detection_signal",
    "ecg_fixpeaks",
    "ecg_polarity",
]
