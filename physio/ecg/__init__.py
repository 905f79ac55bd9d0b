"""ECG: R-peak detection and a corrected RR series for heart rate and HRV.

``ecg_beats(signal, sampling_rate) -> BeatSeries`` is the one entry point; each step is also
callable alone (``ecg_clean``, ``ecg_detection_signal``, ``detect_qrs``, ``ecg_polarity``,
``ecg_fixpeaks``, ``ecg_bad_segments``).

Method, and why (the figures behind each choice are in ``docs/ecg-hrv.md``, section 8;
``bench/bench_ecg_accuracy.py`` and ``bench/bench_ecg_speed.py`` reproduce them):

* **Detector.** A Pan-Tompkins/Hamilton adaptive-threshold detector on a 250 Hz copy
  (searchback at 1.66 RR, T-wave rejection by slope within 360 ms) plus one rule of ours:
  a candidate within 360 ms *after* a beat that is 1.5 x steeper or 1.5 x stronger replaces
  it (the "beat" was a large P wave, which in some leads exceeds the QRS). On the shared
  MIT-BIH records it is more accurate than any single neurokit2 detector, sleepecg, or a
  majority vote of them.
* **Placement.** Polarity is decided once per recording (median positive vs negative QRS
  extreme), then each beat is put on the extreme of the 0.5-45 Hz cleaned signal at the
  *original* rate, with a parabolic sub-sample fit, so the timing does not depend on the
  250 Hz detection copy.
* **Unusable signal** is found in the raw ECG only (missing, flat, clipped, no QRS energy):
  a pause, an AV block or a long RR interval is rhythm and keeps its beats
  (:mod:`physio.ecg.ecg_segments`).
* **Classification.** Lipponen & Tarvainen (2019), vectorised, non-destructive: no detected
  beat is deleted or moved (deleting "extra" and inserting "missed" beats removed real
  premature beats and invented beats in compensatory pauses). Only the classified intervals
  are flagged -- the premature and the compensatory interval of an ectopic beat, an extra
  beat's two halves, a premature beat without compensatory pause, a missed-beat interval
  that spans two beats -- never a neighbour for being a neighbour; each flag has a
  ``beat_class`` and a ``reason``. Annotated normal intervals and paced breathing with a
  large RSA are not flagged.
* **HRV honesty.** RMSSD uses only successive differences of two unflagged intervals (the NN
  definition), so a flagged beat is left out rather than replaced by an interpolated value.
  See ``docs/ecg-hrv.md``.
* **Cost.** Linear in the recording's length; detection runs at 250 Hz whatever the input
  rate, and only what HR and HRV need is computed.
"""

from physio.ecg.ecg_beats import BeatSeries, ecg_beats
from physio.ecg.ecg_clean import ecg_clean, ecg_detection_signal
from physio.ecg.ecg_fixpeaks import ecg_fixpeaks
from physio.ecg.ecg_peaks import detect_qrs
from physio.ecg.ecg_polarity import ecg_polarity
from physio.ecg.ecg_segments import ecg_bad_segments, ecg_unusable

__all__ = [
    "BeatSeries",
    "detect_qrs",
    "ecg_bad_segments",
    "ecg_beats",
    "ecg_clean",
    "ecg_detection_signal",
    "ecg_fixpeaks",
    "ecg_polarity",
    "ecg_unusable",
]
