"""The experimenter's live signal check (``soothe signals``).

- :mod:`experiment.signals.verdict`: pure functions, signal in, verdict out (no I/O).
- :mod:`experiment.signals.scenarios`: what each simulated fault does to the signal.
- :mod:`experiment.signals.monitor`: reads the physiology LSL streams into ring buffers.
- :mod:`experiment.signals.page`: the Bokeh page (live server and static snapshot).
- :mod:`experiment.signals.cli`: the ``soothe signals`` command.
- :mod:`experiment.signals.session_hook`: the check as the first step of ``soothe run``.

Nothing here imports PsychoPy.
"""
