"""Valid share of each channel and the invalid stretches, for the QC figure, index and run.

The quality of every window is judged once, in :mod:`physio.signal_quality` (the windows
columns ``ecg_valid``, ``eda_valid``, ``resp_valid`` and ``resp_source``). This module only
reads those columns back:

* :func:`channel_valid_shares`: the percentage of windows each recorded channel holds
  valid (ECG, EDA, belt; breathing from the ECG when there is no belt), for the sidecar's
  quality block, the QC index and the run's warnings;
* :func:`invalid_spans`: the stretches of the session clock whose windows a channel does
  not hold valid, merged, for the QC figure's shading;
* :func:`low_valid_warnings`: one line per recording and channel under
  :data:`WARN_VALID_PCT` valid, which the batch prints at the end of a run.

No matplotlib here: the batch's parent process imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CHANNEL_NAMES", "WARN_VALID_PCT", "channel_valid_shares", "invalid_spans",
           "low_valid_warnings", "worst_valid_pct"]

#: A channel valid in fewer than this percentage of its recording's windows is reported
#: at the end of the run: most of what it would report is noise.
WARN_VALID_PCT = 50.0
#: The quality block's keys of each channel's valid share, with the channel's name as the
#: QC index and the run's warnings print it. ``resp_valid_pct`` is the belt's share when a
#: belt was recorded, else the share of windows with an ECG-derived breathing rate.
CHANNEL_NAMES = {"ecg_valid_pct": "ECG", "eda_valid_pct": "EDA", "resp_valid_pct": "belt"}


def _share(valid: pd.Series) -> float:
    return round(float(valid.astype(bool).mean() * 100), 1) if len(valid) else 0.0


def channel_valid_shares(result: Any) -> dict[str, Any]:
    """Valid share (% of complete windows) of each channel the recording holds.

    A partial window (a phase's remainder, shorter than a window) holds no values by design,
    so it is no evidence about the signal and is left out of the share. A channel the
    recording does not hold gets None (nothing to warn about). Breathing is
    judged on the belt when one was recorded (``resp_source == "belt"``: the belt's own
    rate was valid), else on the ECG-derived rate (``resp_valid``); ``resp_from`` says which
    (``belt``, ``ecg`` or None).

    Parameters
    ----------
    result : physio.pipeline.RecordingResult

    Returns
    -------
    dict
        ``ecg_valid_pct``, ``eda_valid_pct``, ``resp_valid_pct`` (float or None) and
        ``resp_from``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w = pd.DataFrame({"ecg_valid": [True, False], "eda_valid": [True, True],
    ...                   "resp_valid": [True, True], "resp_source": ["belt", "ecg"]})
    >>> r = SimpleNamespace(windows=w, info={"ecg": {"channel": "ECG"}}, eda=None,
    ...                     rsp_belt=object(), rsp_ecg=None)
    >>> channel_valid_shares(r)
    {'ecg_valid_pct': 50.0, 'eda_valid_pct': None, 'resp_valid_pct': 50.0, 'resp_from': 'belt'}
    """
    w = result.windows
    if "partial" in w:
        w = w[~w["partial"].fillna(False).astype(bool)]
    has_ecg = (getattr(result, "info", None) or {}).get("ecg") is not None
    out: dict[str, Any] = {
        "ecg_valid_pct": _share(w["ecg_valid"]) if has_ecg and "ecg_valid" in w else None,
        "eda_valid_pct": (_share(w["eda_valid"]) if result.eda is not None
                          and "eda_valid" in w else None),
        "resp_valid_pct": None, "resp_from": None}
    if getattr(result, "rsp_belt", None) is not None and "resp_source" in w:
        out.update(resp_valid_pct=_share(w["resp_source"] == "belt"), resp_from="belt")
    elif getattr(result, "rsp_ecg", None) is not None and "resp_valid" in w:
        out.update(resp_valid_pct=_share(w["resp_valid"]), resp_from="ecg")
    return out


def invalid_spans(windows: pd.DataFrame, valid: np.ndarray) -> list[tuple[float, float]]:
    """(start_s, end_s) of the stretches whose windows are not valid, touching ones merged.

    Parameters
    ----------
    windows : pandas.DataFrame
        With ``start_s`` and ``end_s``.
    valid : numpy.ndarray of bool
        One per window.

    Examples
    --------
    >>> w = pd.DataFrame({"start_s": [0.0, 60, 120, 180], "end_s": [60.0, 120, 180, 240]})
    >>> invalid_spans(w, np.array([True, False, False, True]))
    [(60.0, 180.0)]
    """
    if not len(windows):
        return []
    bad = ~np.asarray(valid, dtype=bool)
    start = windows["start_s"].to_numpy(float)[bad]
    end = windows["end_s"].to_numpy(float)[bad]
    order = np.argsort(start)
    spans: list[tuple[float, float]] = []
    for a, b in zip(start[order], end[order]):
        if spans and a <= spans[-1][1] + 1e-9:
            spans[-1] = (spans[-1][0], max(spans[-1][1], float(b)))
        else:
            spans.append((float(a), float(b)))
    return spans


def worst_valid_pct(row: Mapping[str, Any]) -> float:
    """The lowest valid share of a recording's channels (100 when it holds none).

    Examples
    --------
    >>> worst_valid_pct({"ecg_valid_pct": 96.0, "eda_valid_pct": None, "resp_valid_pct": 40})
    40.0
    """
    shares = [row.get(k) for k in CHANNEL_NAMES]
    shares = [float(s) for s in shares if s is not None and np.isfinite(float(s))]
    return min(shares) if shares else 100.0


def low_valid_warnings(record: Mapping[str, Any], deriv: Path | None = None) -> list[str]:
    """One line per channel of a recording valid in under :data:`WARN_VALID_PCT` % of its
    windows, naming the recording, the channel, its valid share and the QC figure.

    ``record`` is the batch's record of the recording (its ``key``, ``png`` and the
    quality block); the figure is named relative to ``deriv`` when given. Breathing
    derived from the ECG is not a recorded channel and is not warned about (the ECG is).

    Examples
    --------
    >>> rec = {"key": "sub-x_ses-1", "png": "/d/qc/sub-x_ses-1_qc.png",
    ...        "ecg_valid_pct": 12.0, "eda_valid_pct": 100.0, "resp_valid_pct": None}
    >>> low_valid_warnings(rec, Path("/d"))
    ['sub-x ses-1: ECG valid in 12 % of windows (see qc/sub-x_ses-1_qc.png)']
    """
    png = Path(str(record.get("png", "")))
    if deriv is not None:
        try:
            png = png.relative_to(deriv)
        except ValueError:
            pass
    name = str(record.get("key", "")).replace("_", " ")
    lines = []
    for key, channel in CHANNEL_NAMES.items():
        pct = record.get(key)
        if key == "resp_valid_pct" and record.get("resp_from") != "belt":
            continue
        if pct is not None and float(pct) < WARN_VALID_PCT:
            lines.append(f"{name}: {channel} valid in {float(pct):.0f} % of windows "
                         f"(see {png.as_posix()})")
    return lines
