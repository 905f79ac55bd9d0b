"""ECG: R-peak detection and a corrected RR series for heart rate and HRV.

``ecg_beats(signal, sampling_rate) -> BeatSeries`` is the one entry point; each step is also
callable alone (``ecg_clean``, ``ecg_detection_signal``, ``detect_qrs``, ``ecg_polarity``,
``ecg_fixpeaks``, ``ecg_bad_segments``).

Method, and why (figures from ``bench/bench_ecg_accuracy.py`` on the shared MIT-BIH records
100 106 108 113 121 223, MLII, +-150 ms):

* **Detector.** A Pan-Tompkins/Hamilton adaptive-threshold detector on a 250 Hz copy
  (searchback at 1.66 RR, T-wave rejection by slope within 360 ms) plus one rule of ours:
  a candidate within 360 ms *after* a beat that is 1.5 x steeper or 1.5 x stronger replaces
  it (the "beat" was a large P wave). Overall F1 0.9991, worst record 108 at 0.9955 (same
  run: nk.ecg_process 0.882, nk.ecg_peaks 0.944; resampled to 100 or 1000 Hz: 0.9990 and
  0.9991); without the P-wave rule 108 falls to 0.955 (its P waves exceed some QRS
  complexes), with ratios 1.4-1.6 it stays at 0.993-0.995, at 2.0 it is 0.986. Single
  neurokit2 detectors scored 0.78-0.9998 per record, none >= 0.99 on 108 (elgendi2010 0.983 best);
  ``sleepecg.detect_heartbeats`` scored 0.911 on 108 and 0.982 on 106; a majority vote of
  neurokit2 detectors and sleepecg was worse than the best single one (max overall 0.994).
* **Placement.** Polarity is decided once per recording (median positive vs negative QRS
  extreme), then each beat is put on the extreme of the 0.5-45 Hz cleaned signal at the
  *original* rate, with a parabolic sub-sample fit: on simulated ECG the median timing error
  is 0.1-0.3 ms at 100-2000 Hz.
* **Unusable signal** is found in the raw ECG only (missing, flat, clipped, no QRS energy):
  a pause, an AV block or a long RR interval is rhythm and keeps its beats
  (:mod:`physio.ecg.ecg_segments`).
* **Classification.** Lipponen & Tarvainen (2019), vectorised, non-destructive: no detected
  beat is deleted or moved (deleting "extra" and inserting "missed" beats cost F1 0.9991 ->
  0.9973 on MIT-BIH). Only the classified intervals are flagged -- the premature and the
  compensatory interval of an ectopic beat, an extra beat's two halves, a premature beat
  without compensatory pause, a missed-beat interval that spans two beats -- never a
  neighbour for being a neighbour; each flag has a ``beat_class`` and a ``reason``. 0 of the
  annotated normal intervals of MIT-BIH 100/113/121 are flagged (36 and 7 on 100 and 113
  before issue 10), and none in paced breathing at 6/min with +-250 ms RSA.
* **HRV honesty.** RMSSD uses only successive differences of two unflagged intervals (the NN
  definition): over the 60-s windows of 100/113/121 median |error| 0.27 ms, max 2.3 ms
  against RMSSD of the annotated normal beats. See ``docs/ecg-hrv.md``.
* **Speed.** 40 min at 1000 Hz with 40 one-minute HRV windows: 0.09 s and 41 MB
  (nk.ecg_process + nk.hrv_time: ~50 s, 1.1 GB), linear in length: 0.37 s for 160 min
  (``bench/bench_ecg_speed.py --no-nk``, idle 2-core machine, after issue 16; 0.26-0.34 s
  and 60 MB before issues 15-16).
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
