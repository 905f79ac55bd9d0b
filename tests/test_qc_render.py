"""The QC figure's rendering shortcuts draw exactly what matplotlib and Pillow would.

* ``physio.png_write.png_bytes``: a valid PNG whose pixels decode (with Pillow) to the
  array given; RGB for an opaque image, RGBA otherwise; the resolution recorded.
* ``physio.qc_canvas.QCCanvas``: the layout-caching renderer draws the same pixels as the
  stock Agg renderer, also when its cached layouts are reused for another figure.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from physio.png_write import png_bytes


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_png_round_trips_rgba_with_transparency():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    back = _decode(png_bytes(img))
    assert back.shape == (37, 53, 4)
    assert np.array_equal(back, img)


def test_png_of_an_opaque_image_is_rgb_with_the_same_pixels():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, size=(20, 31, 4), dtype=np.uint8)
    img[..., 3] = 255
    data = png_bytes(img, dpi=80)
    back = _decode(data)
    assert back.shape == (20, 31, 3)
    assert np.array_equal(back, img[..., :3])
    dpi = Image.open(io.BytesIO(data)).info["dpi"]
    assert dpi == pytest.approx((80, 80), abs=0.01)


def test_png_row_filter_wraps_around_modulo_256():
    # a column going 255 -> 0 -> 255: the "Up" differences wrap; the decoder undoes it
    img = np.zeros((3, 2, 3), np.uint8)
    img[0] = 255
    img[2] = 255
    assert np.array_equal(_decode(png_bytes(img)), img)


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4), np.uint8),            # no channel axis
    np.zeros((4, 4, 2), np.uint8),         # grey + alpha: not written here
    np.zeros((4, 4, 3), np.float64),       # not 8-bit
    np.zeros((0, 4, 3), np.uint8),         # empty
])
def test_png_refuses_what_it_cannot_write(bad):
    with pytest.raises(ValueError, match="png_bytes: expected a uint8 array"):
        png_bytes(bad)


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
                     "EDA": Channel("EDA", s.eda_us, 500.0, "uS", "eda")},
                    Path("sub-007_ses-1.csv"), "csv", markers)
    return process_recording(rec)


def _stock_pixels(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the stock renderer
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_layout_cache_is_used_with_this_matplotlib():
    from physio.qc_canvas import LAYOUT_CACHE_AVAILABLE

    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    # on 3.11+ the cache must be active; if matplotlib's internals change, this says so
    assert LAYOUT_CACHE_AVAILABLE == ((major, minor) >= (3, 11))


def test_qc_canvas_draws_the_stock_renderers_pixels(result):
    import dataclasses

    from physio.qc import figure_png, plot_recording_qc
    from physio.qc_canvas import LAYOUT_CACHE_AVAILABLE, QCCanvas

    # another recording first, so this one is drawn partly from layouts cached by it
    other = dataclasses.replace(result, participant="042",
                                beats=result.beats.iloc[: len(result.beats) // 2])
    fig = plot_recording_qc(other, reuse=True)
    assert isinstance(fig.canvas, QCCanvas)
    figure_png(fig)
    renderer = fig.canvas.get_renderer()
    if LAYOUT_CACHE_AVAILABLE:
        assert renderer.layouts  # the strings of the first figure were kept
    n_cached = len(getattr(renderer, "layouts", {}))
    fig = plot_recording_qc(result, reuse=True)
    cached = _decode(figure_png(fig))
    if LAYOUT_CACHE_AVAILABLE:
        assert fig.canvas.get_renderer() is renderer
        assert len(renderer.layouts) > 0 and n_cached > 0
    stock = _stock_pixels(plot_recording_qc(result))  # a new figure, stock canvas
    assert cached.shape == stock[..., :3].shape
    assert np.array_equal(cached, stock[..., :3])


def test_qc_png_has_the_pixels_pillow_would_write(result, tmp_path):
    from physio.qc import plot_recording_qc, save_figure

    fig = plot_recording_qc(result)
    save_figure(fig, tmp_path / "qc.png")
    ours = _decode((tmp_path / "qc.png").read_bytes())
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # matplotlib + Pillow
    theirs = np.asarray(Image.open(buf).convert("RGB"))
    assert np.array_equal(ours, theirs)


def test_same_string_in_other_sizes_fonts_and_angles_is_laid_out_for_each():
    from matplotlib.figure import Figure

    from physio.qc_canvas import QCCanvas

    def draw(canvas_cls) -> np.ndarray:
        fig = Figure(figsize=(3, 2), dpi=80)
        canvas = canvas_cls(fig)
        for k, (size, family, angle) in enumerate([(7, "sans-serif", 0), (12, "sans-serif", 0),
                                                   (12, "serif", 0), (9, "monospace", 30),
                                                   (7, "sans-serif", 90)]):
            fig.text(0.05 + 0.18 * k, 0.4, "Wave 10", fontsize=size, family=family,
                     rotation=angle)
        canvas.draw()
        canvas.draw()  # the second drawing comes from the cached layouts
        return np.asarray(canvas.buffer_rgba()).copy()

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert np.array_equal(draw(QCCanvas), draw(FigureCanvasAgg))
