"""Phase shading as one collection draws the pixels of one axvspan per phase."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from physio.qc import PHASE_COLOURS, shade_phases


def _pixels(shade) -> np.ndarray:
    fig = Figure(figsize=(6, 2), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([0, 1700], [0, 1], lw=0.5)
    shade(ax)
    ax.set_xlim(0, 1700)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_one_collection_draws_the_same_pixels_as_axvspans():
    phases = [SimpleNamespace(start_s=a, end_s=b) for a, b in
              [(0, 95.5), (95.5, 400), (400, 401.2), (401.2, 1200), (1200, 1650)] * 1]

    def spans(ax):
        for k, p in enumerate(phases):
            ax.axvspan(p.start_s, p.end_s, color=PHASE_COLOURS[k % len(PHASE_COLOURS)],
                       alpha=0.12, lw=0)

    new = _pixels(lambda ax: shade_phases(ax, phases))
    assert np.array_equal(new, _pixels(spans))
    assert not np.array_equal(new, _pixels(lambda ax: None))  # the shading is drawn
