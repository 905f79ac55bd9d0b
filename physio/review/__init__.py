"""The analysts' review page: look at one recording's beats, SCRs, breaths and windows,
correct them, and save the corrections as an edit file that the pipeline re-applies.

``soothe physio review DERIV`` serves the page on 127.0.0.1 (a Bokeh server; BokehJS comes
from the installed package, never from the internet). The modules, each usable alone:

* :mod:`physio.review.catalog` -- every processed recording of a derivatives folder, worst
  first, with its review status;
* :mod:`physio.review.decimate` -- min/max decimation of a long trace for display;
* :mod:`physio.review.data` -- one recording's tables and signals, as the page shows them;
* :mod:`physio.review.session` -- the analyst's unsaved edits, their undo stack, their
  crash journal and the save (merge, write, re-process);
* :mod:`physio.review.page` -- the Bokeh models of the page;
* :mod:`physio.review.server` -- the local server.

The page only displays and records edits: results are decided by the pipeline, which reads
the edit file. That is why this package is left out of the pipeline's code hash
(:func:`physio.sidecar.code_hash`).
"""
