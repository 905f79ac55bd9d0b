"""The signal-processing engine of the pipeline: one method per stage, chosen by name.

:func:`physio.pipeline.process_recording` owns everything around the numbers: the choice
of channels and their units, the phases and windows, the reasons written when a signal is
missing or unusable, the output tables and the sidecar. An engine owns only the signal
processing, one method per stage, each called once per recording (the HRV stage once per
window and phase):

==============  ===================================  =====================================
stage           method                               returns
==============  ===================================  =====================================
ECG beats       ``ecg_beats(ecg, millivolts)``       :class:`physio.ecg.BeatSeries`, on
                                                     the ECG channel's clock (first
                                                     sample = 0)
HRV of a span   ``hrv_window(beats, start, end)``    dict with every key of
                                                     :data:`physio.hrv.KEYS`
EDA             ``eda_process(eda, microsiemens)``   :class:`physio.eda.EdaResult`
belt breathing  ``rsp_belt(rsp, source=...)``        :class:`physio.rsp.BreathSeries`
ECG breathing   ``ecg_breathing(beats, ecg)``        :class:`physio.rsp.BreathSeries`
==============  ===================================  =====================================

A stage that cannot use its signal at all raises :class:`~physio.errors.SignalQualityError`
(or :class:`~physio.errors.ChannelError`); the pipeline then keeps the other signals and
writes the reason in every window.

The two engines are :class:`physio.engine_soothe.SootheEngine` (the default: soothe's own
methods) and :class:`physio.engine_neurokit2.NeuroKit2Engine` (neurokit2's functions, to
cross-check the default one). Each is a frozen dataclass whose fields are settings of
the same name in :class:`physio.pipeline.PipelineSettings` (chunk lengths, methods, the
SCR criterion); :func:`make_engine` fills them from the settings, and an engine built by
hand (``SootheEngine()``) has the pipeline's defaults.

Where things go
---------------
- **A new engine**: a frozen dataclass with the methods of :class:`Engine` in its own
  module ``physio/engine_<name>.py`` (fields named as the settings it reads; a new
  setting goes into ``PipelineSettings`` too, so that it is hashed into the sidecar),
  added to :data:`ENGINES` below; ``PipelineSettings(engine="<name>")`` then accepts it.
  Its name also goes into the ``--engine`` choices of :mod:`physio.cli`, written out there
  so that ``soothe physio --help`` loads no numerical library (a test checks the two agree).
- **A new stage** computed from the signals: a method here on :class:`Engine`,
  implemented by every engine (an engine without its own method calls soothe's function,
  as :meth:`NeuroKit2Engine.ecg_breathing` does).
- **A new per-window quality index**: not an engine method. Quality is judged outside the
  engines, from their outputs (beats, breaths, the EDA signal), in
  :mod:`physio.signal_quality`, on the indices defined once in
  :mod:`physio.ecg.ecg_quality`, :mod:`physio.eda.eda_artifacts` and
  :mod:`physio.rsp.rsp_quality`: both engines are judged by one definition, and the live
  signal check (``experiment/signals/verdict.py``) calls the same functions.
- **A new window column** (a measure or an index): the pipeline measures spans in
  :class:`physio.pipeline.RecordingSignals` (one method per measure) and
  :func:`physio.pipeline.window_row` puts the values into each window; new columns must
  also be in ``conditions.bids.WINDOWS_COLUMNS`` (and ``PHASES_COLUMNS`` for
  :func:`physio.pipeline.phases_table`), else they are left out of the tables.

Examples
--------
>>> from physio.pipeline import PipelineSettings
>>> make_engine(PipelineSettings()).name
'soothe'
>>> sorted(ENGINES)
['neurokit2', 'soothe']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from physio.ecg import BeatSeries
from physio.eda import EdaResult
from physio.engine_neurokit2 import NeuroKit2Engine
from physio.engine_soothe import SootheEngine
from physio.recording import Channel
from physio.rsp import BreathSeries

#: A unit conversion of a channel's samples: ``convert(data)`` gives a new array in the
#: stage's units; the ECG's also takes ``copy=False`` (an array already in mV is returned
#: as is).
Converter = Callable[..., np.ndarray]


class Engine(Protocol):
    """The signal processing of the pipeline, one method per stage (see the module)."""

    #: The name given as ``PipelineSettings(engine=...)``.
    name: str

    def ecg_beats(self, ecg: Channel, millivolts: Converter) -> BeatSeries:
        """Corrected R peaks of a whole ECG channel, on the channel's clock."""
        ...

    def hrv_window(self, beats: BeatSeries, start_s: float, end_s: float, *,
                   uncertain: np.ndarray | None = None) -> dict[str, Any]:
        """HR and HRV of ``[start_s, end_s)`` on the ECG channel's clock, with validity;
        the successive differences involving an ``uncertain`` beat (one flag per beat: its
        R-peak time is ambiguous) are left out of RMSSD."""
        ...

    def eda_process(self, eda: Channel, microsiemens: Converter) -> EdaResult:
        """Tonic level and SCRs of a whole EDA channel, on the recording clock."""
        ...

    def rsp_belt(self, rsp: Channel, *, source: str) -> BreathSeries:
        """Breaths of a respiration belt, on the recording clock."""
        ...

    def ecg_breathing(self, beats: BeatSeries, ecg: Channel) -> BreathSeries:
        """Breaths derived from the ECG (RSA and QRS amplitude), on the recording clock."""
        ...


#: Engine name -> engine class (a dataclass; :func:`make_engine` fills its fields).
ENGINES: dict[str, type] = {
    "soothe": SootheEngine,
    "neurokit2": NeuroKit2Engine,
}


def make_engine(settings: Any) -> Engine:
    """The engine named by ``settings.engine``, its fields taken from ``settings``.

    Parameters
    ----------
    settings : physio.pipeline.PipelineSettings
        Or any object with an ``engine`` name and an attribute for each field of that
        engine's class.

    Raises
    ------
    ValueError
        An engine name not in :data:`ENGINES`.
    """
    try:
        cls = ENGINES[settings.engine]
    except KeyError:
        raise ValueError(f"engine must be one of {tuple(ENGINES)}, got "
                         f"{settings.engine!r}") from None
    return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})
