"""The QC figure's PNG is matplotlib's Agg picture, encoded by Pillow, and readable.

* ``physio.qc.figure_png``: a valid PNG whose pixels decode (with Pillow) to the canvas's
  pixels; RGB for an opaque figure, RGBA otherwise; the resolution recorded.
* A saved QC figure has exactly the pixels ``savefig`` writes for the same figure.
* The breathing row draws the belt trace and the rate per window, not one tick per breath.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from physio.qc import figure_png, plot_recording_qc, save_figure


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def result():
    from conditions.protocol import load_protocol
    from physio.pipeline import process_recording
    from physio.recording import Channel, Recording
    from soothe.simulate import simulate_session

    protocol = load_protocol()
    s = simulate_session(protocol, "007", "rumination", seed=11, index=1, fs=500.0)
    ev = s.events_table(protocol)
    markers = pd.DataFrame({"onset_s": ev.onset.astype(float), "code": ev.value.astype(int),
                            "label": ev.trial_type})
    rec = Recording({"ECG": Channel("ECG", s.ecg_mv, 500.0, "mV", "ecg"),
                     "EDA": Channel("EDA", s.eda_us, 500.0, "uS", "eda"),
                     "RSP": Channel("RSP", s.resp_v, 500.0, "V", "rsp")},
                    Path("sub-007_ses-1.csv"), "csv", markers)
    return process_recording(rec)


def test_opaque_figure_is_written_as_rgb_with_the_canvas_pixels_and_dpi():
    fig = Figure(figsize=(2, 1), dpi=80)
    fig.add_subplot().plot([0, 1], [0, 1], color="red")
    data = figure_png(fig)
    back = _decode(data)
    canvas = np.asarray(fig.canvas.buffer_rgba())
    assert back.shape == (80, 160, 3)
    assert np.array_equal(back, canvas[..., :3])
    assert Image.open(io.BytesIO(data)).info["dpi"] == pytest.approx((80, 80), abs=0.01)


def test_transparent_figure_keeps_its_alpha():
    fig = Figure(figsize=(1, 1), dpi=40)
    fig.patch.set_alpha(0.0)
    back = _decode(figure_png(fig))
    assert back.shape == (40, 40, 4)
    assert np.array_equal(back, np.asarray(fig.canvas.buffer_rgba()))


def test_qc_png_has_the_pixels_savefig_writes(result, tmp_path):
    fig = plot_recording_qc(result)
    save_figure(fig, tmp_path / "qc.png")
    ours = _decode((tmp_path / "qc.png").read_bytes())
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # matplotlib + Pillow
    theirs = np.asarray(Image.open(buf).convert("RGB"))
    assert np.array_equal(ours, theirs)


def test_breathing_row_shows_rate_per_window_not_one_tick_per_breath(result):
    from physio.qc_rsp import rate_axis

    assert result.rsp_belt is not None and len(result.rsp_belt.onset_s) > 100
    fig = plot_recording_qc(result)
    ax = next(a for a in fig.get_axes() if a.get_ylabel() == "breathing")
    assert ax.get_title(loc="left").startswith("breathing: belt")
    # no marker line with one point per breath
    n_breaths = len(result.rsp_belt.onset_s)
    assert all(len(ln.get_xdata()) < n_breaths / 2 or ln.get_marker() in ("None", None, "")
               for ln in ax.get_lines())
    rates = rate_axis(ax)
    assert rates.get_ylabel() == "breaths/min"
    points = [ln for ln in rates.get_lines() if ln.get_gid() == "breathing_rate"]
    assert len(points) == 1
    want = result.windows["resp_rate_bpm"].astype(float)
    assert len(points[0].get_ydata()) == int(want.notna().sum()) > 10
    np.testing.assert_allclose(np.sort(points[0].get_ydata()), np.sort(want.dropna()))
