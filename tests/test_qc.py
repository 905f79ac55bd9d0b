"""QC figure (fast on long recordings, every panel drawn) and the HTML index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import physio.qc_rsp
from physio.pipeline import process_recording
from physio.qc import plot_recording_qc, save_figure
from physio.qc_index import write_qc_index
from physio.recording import Channel, Recording


@pytest.fixture(scope="module")
def result():
    from conditions.protocol import load_protocol
    from soothe.simulate import simulate_session

    protocol = load_protocol()
    s = simulate_session(protocol, "001", "neutral", seed=5, index=1, fs=1000.0)
    ev = s.events_table(protocol)
    markers = pd.DataFrame({"onset_s": ev.onset.astype(float), "code": ev.value.astype(int),
                            "label": ev.trial_type})
    rec = Recording({"ECG": Channel("ECG", s.ecg_mv, 1000.0, "mV", "ecg"),
                     "EDA": Channel("EDA", s.eda_us, 1000.0, "uS", "eda")},
                    Path("sub-001_ses-1.csv"), "csv", markers)
    return process_recording(rec)


def test_figure_has_every_panel_and_thins_long_traces(result, tmp_path):
    fig = plot_recording_qc(result)
    path = tmp_path / "qc.png"
    save_figure(fig, path)
    axes = fig.get_axes()
    assert len(axes) == 7  # 6 rows (breathing above EDA, qc_rsp.py) + the rate axis
    assert axes[0].get_title(loc="left") == "ECG excerpt"
    assert axes[4].get_title(loc="left").startswith("breathing: ECG-derived")
    labels = [t.get_text() for t in axes[5].get_legend().get_texts()]
    assert labels[:2] == ["EDA", "tonic"] and labels[2].startswith("SCR")
    # a 28-min 1000 Hz recording: no trace holds more than a few thousand points
    assert max(len(line.get_xdata()) for ax in axes for line in ax.get_lines()) <= 5000
    phase_names = {t.get_text() for t in axes[1].texts}
    assert {"baseline", "induction", "recovery"} <= phase_names
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_every_label_and_tick_label_is_inside_the_saved_image(result, tmp_path):
    """The breathing row's rate axis sits at the right edge: its tick labels and its label
    must be inside the canvas (they were cut off with a 0.985 right margin)."""
    fig = plot_recording_qc(result)
    save_figure(fig, tmp_path / "qc.png")  # draws it
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    rate_axis = physio.qc_rsp.rate_axis(fig.get_axes()[4])
    def in_view(lim, value) -> bool:  # a tick outside the view limits is not drawn
        return min(lim) - 1e-9 <= value <= max(lim) + 1e-9

    texts = []
    for k, ax in enumerate(fig.get_axes()):
        ticks = [t for t in ax.get_xticklabels() if in_view(ax.get_xlim(), t.get_position()[0])]
        ticks += [t for t in ax.get_yticklabels() if in_view(ax.get_ylim(), t.get_position()[1])]
        for t in [ax.yaxis.label, ax.xaxis.label, *ticks]:
            if t.get_visible() and t.get_text():
                texts.append((k, t))
    assert rate_axis.yaxis.label.get_text() == "breaths/min"
    rate_texts = {id(t) for t in [rate_axis.yaxis.label, *rate_axis.get_yticklabels()]}
    assert len(rate_texts & {id(t) for _, t in texts}) >= 4  # the label and its ticks
    for k, t in texts:
        box = t.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, (
            f"{t.get_text()!r} of axes {k} drawn at x {box.x0:.0f}-{box.x1:.0f}, "
            f"y {box.y0:.0f}-{box.y1:.0f}, outside the {width}x{height} image")


def test_tachogram_marks_every_corrected_beat_and_shades_phases(result):
    import dataclasses

    beats = result.beats.copy()
    planted = np.arange(100, len(beats), max(1, len(beats) // 7))[:7]
    beats.loc[planted, "corrected"] = True
    res = dataclasses.replace(result, beats=beats)
    fig = plot_recording_qc(res)
    tach = [ax for ax in fig.get_axes() if ax.get_label() == "tachogram"]
    assert len(tach) == 1
    ax = tach[0]
    marks = [ln for ln in ax.get_lines() if ln.get_gid() == "corrected_beats"]
    assert len(marks) == 1
    want = beats.loc[beats.corrected, "r_peak_s"].to_numpy()
    assert len(want) >= 7
    # the key (a right-hand title, cheaper to draw than a legend) gives the count
    assert ax.get_title(loc="right").endswith(f"corrected ({len(want)})")
    np.testing.assert_allclose(np.sort(marks[0].get_xdata()), np.sort(want))
    # the RR trace covers the whole recording, not an excerpt
    trace = [ln for ln in ax.get_lines() if ln.get_label() == "RR"][0]
    x = trace.get_xdata()
    assert x.min() <= beats.r_peak_s.min() + 5 and x.max() >= beats.r_peak_s.max() - 5
    spans = [c for c in ax.collections if c.get_gid() == "phase_spans"]
    assert len(spans) == 1 and len(spans[0].get_paths()) == len(result.plan.phases) >= 3
    assert {"baseline", "induction", "recovery"} <= {t.get_text() for t in ax.texts}


def test_index_lists_flagged_recordings_first(tmp_path):
    rows = [
        {"key": "sub-01_ses-1", "png": "a.png", "n_windows": 30, "ecg_valid_pct": 100.0,
         "eda_valid_pct": 100.0, "corrected_pct": 0.5, "n_scr": 40, "non_responder": False},
        {"key": "sub-02_ses-1", "png": "b.png", "n_windows": 30, "ecg_valid_pct": 60.0,
         "eda_valid_pct": 100.0, "corrected_pct": 8.0, "n_scr": 0, "non_responder": True},
    ]
    failures = [{"source": "/x/bad.acq", "error_type": "ReaderError", "message": "truncated"}]
    path = tmp_path / "index.html"
    write_qc_index(path, rows, failures)
    html = path.read_text()
    assert html.index("sub-02_ses-1") < html.index("sub-01_ses-1")
    assert "non-responder" in html and "ECG valid 60%" in html and "corrected 8.0%" in html
    assert "bad.acq" in html and "truncated" in html
    assert "1 failures" in html
    assert np.char.count(html, "<tr class='bad'>") == 2


def test_decimated_traces_keep_a_single_sample_spike_visible(result):
    """Min/max per pixel column: one sample far above its neighbours is still drawn."""
    import dataclasses

    from physio.qc import FIG_DPI, minmax_decimate

    eda = result.eda
    clean = eda.clean.copy()
    i = len(clean) // 2 + 137  # not on any regular thinning grid
    base = float(np.nanmax(clean))
    spike = base + 3.0
    clean[i] = spike
    res = dataclasses.replace(result, eda=dataclasses.replace(eda, clean=clean))
    fig = plot_recording_qc(res)
    ax = next(a for a in fig.get_axes() if a.get_ylabel() == "EDA (uS)")
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "EDA")
    width_px = ax.get_position().width * fig.get_figwidth() * FIG_DPI
    assert len(line.get_xdata()) <= 2 * (width_px + 3)  # decimated to the screen
    assert float(np.nanmax(line.get_ydata())) == spike

    # and in the pixels: the column of the spike is inked half-way up to it
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    t_spike = float(eda.times_s[i])
    x, y = ax.transData.transform((t_spike, (spike + float(np.nanmedian(clean))) / 2))
    row, col = rgba.shape[0] - int(round(y)), int(round(x))
    patch = rgba[row - 1:row + 2, col - 2:col + 3, :3].astype(int)
    assert patch.sum(axis=2).min() < 3 * 170, "no trace drawn where the spike is"

    # the same trace, thinned to every n-th sample as before, loses the spike
    step = max(1, len(clean) // 4000)
    assert i % step and float(np.nanmax(clean[::step])) < spike
    tt, yy = minmax_decimate(eda.times_s, clean, 800)
    assert len(tt) <= 2 * 802 and float(np.nanmax(yy)) == spike


def test_reused_figure_draws_exactly_what_a_new_figure_draws(result):
    import dataclasses
    import io

    from PIL import Image

    from physio.qc import figure_png

    fresh = figure_png(plot_recording_qc(result))
    # draw another recording first (other beats, no EDA), then this one again
    other = dataclasses.replace(result, eda=None, beats=result.beats.iloc[: len(result.beats)
                                                                         // 3])
    first = plot_recording_qc(other, reuse=True)
    n_lines_other = sum(len(ax.get_lines()) for ax in first.get_axes())
    figure_png(first)
    second = plot_recording_qc(result, reuse=True)
    assert second is first
    assert len(second.get_axes()) == 7  # emptied, not stacked (6 rows + breathing rate)
    assert sum(len(ax.get_lines()) for ax in second.get_axes()) > n_lines_other
    assert [ax.get_label() for ax in second.get_axes()][1] == "tachogram"
    reused = np.asarray(Image.open(io.BytesIO(figure_png(second))))
    new = np.asarray(Image.open(io.BytesIO(fresh)))
    assert reused.shape == new.shape
    assert (reused != new).any(axis=2).mean() < 0.001  # the same picture


def test_extra_panel_row_above_eda(result):
    drawn = []

    def panel(ax, res):
        drawn.append(res)
        ax.set_ylabel("resp (a.u.)")

    fig = plot_recording_qc(result, extra_panels=[(1.0, panel)])
    axes = fig.get_axes()
    assert len(axes) == 6 and drawn == [result]
    assert axes[4].get_ylabel() == "resp (a.u.)" and axes[5].get_ylabel() == "EDA (uS)"
    spans = [c for c in axes[4].collections if c.get_gid() == "phase_spans"]  # phases shaded
    assert len(spans) == 1 and len(spans[0].get_paths()) == len(result.plan.phases)
