"""Quality-control figure per recording and an HTML index of a batch."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

#: Points per trace in the QC figure: enough to see the shape, cheap to draw.
MAX_PLOT_POINTS = 4000
_PHASE_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")


def _thin(t: np.ndarray, y: np.ndarray, n: int = MAX_PLOT_POINTS):
    step = max(1, len(t) // n)
    return t[::step], y[::step]


def plot_recording_qc(result: Any, *, show: bool = False):
    """One figure: ECG excerpt with R-peaks, the whole-recording RR tachogram with every
    corrected beat marked, HR and RMSSD per window, EDA with tonic and SCRs.

    Phases are shaded on the time-course panels. Long traces are thinned to
    ``MAX_PLOT_POINTS`` so a 40-min recording plots in well under a second; corrected
    beats are never thinned (they are what the reader of the figure looks for). The
    tachogram axis has the label ``"tachogram"`` and its corrected-beat markers the gid
    ``"corrected_beats"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if show:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(11, 11))
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 11))
    axes = fig.subplots(5, 1, gridspec_kw={"height_ratios": [1, 1.2, 1, 1, 1.3]})
    w = result.windows
    title = f"sub-{result.participant} ses-{result.session} condition: {result.plan.condition}"
    q = result.quality()
    fig.suptitle(
        f"{title}\nvalid windows ECG {q['ecg_valid_pct']:.0f}%  EDA {q['eda_valid_pct']:.0f}%"
        f"  corrected beats {q['corrected_pct'] if q['corrected_pct'] is not None else 'n/a'}%"
        f"  SCRs {q['n_scr']}{'  NON-RESPONDER' if q['non_responder'] else ''}",
        fontsize=10,
    )
    ax = axes[0]
    ex = result.ecg_excerpt
    if ex is not None and len(ex["t"]):
        ax.plot(ex["t"], ex["y"], lw=0.7, color="0.2")
        if len(ex["peaks_s"]):
            yp = np.interp(ex["peaks_s"], ex["t"], ex["y"])
            ok = ~ex["corrected"]
            ax.plot(ex["peaks_s"][ok], yp[ok], "v", color="#0072B2", ms=5, label="R-peak")
            ax.plot(ex["peaks_s"][~ok], yp[~ok], "x", color="#D55E00", ms=7, label="corrected")
            ax.legend(loc="upper right", fontsize=7)
        ax.set_title("ECG excerpt", fontsize=9, loc="left")
    else:
        ax.text(0.5, 0.5, "no ECG", ha="center", transform=ax.transAxes)
    _plot_tachogram(axes[1], result.beats)
    mid = (w["start_s"] + w["end_s"]) / 2 if len(w) else np.zeros(0)
    panels = [
        (axes[2], "hr_bpm", "HR (bpm)", "#0072B2"),
        (axes[3], "rmssd_ms", "RMSSD (ms)", "#009E73"),
    ]
    for ax, col, label, colour in panels:
        y = w[col].astype(float).to_numpy() if len(w) else np.zeros(0)
        ax.plot(mid, y, "o-", ms=3, color=colour)
        invalid = ~w["ecg_valid"].astype(bool).to_numpy() if len(w) else np.zeros(0, bool)
        if invalid.any():
            ax.plot(mid[invalid], np.full(invalid.sum(), np.nanmin(y) if np.isfinite(y).any()
                                          else 0), "|", color="#D55E00", ms=10)
        ax.set_ylabel(label, fontsize=8)
    ax = axes[4]
    eda = result.eda
    if eda is not None and len(eda.clean):
        t = eda.times_s
        tt, yy = _thin(t, eda.clean)
        ax.plot(tt, yy, lw=0.6, color="0.4", label="EDA")
        tt, yy = _thin(t, eda.tonic)
        ax.plot(tt, yy, lw=1.2, color="#CC79A7", label="tonic")
        if len(eda.scr_peak_s):
            ax.plot(eda.scr_peak_s, np.interp(eda.scr_peak_s, t, np.nan_to_num(eda.clean)),
                    "^", ms=3, color="#E69F00", label=f"SCR ({len(eda.scr_peak_s)})")
        for a, b, _ in eda.bad_segments_s:
            ax.axvspan(a, b, color="red", alpha=0.25, lw=0)
        ax.legend(loc="upper right", fontsize=7)
    else:
        ax.text(0.5, 0.5, "no EDA", ha="center", transform=ax.transAxes)
    ax.set_ylabel("EDA (uS)", fontsize=8)
    ax.set_xlabel("session time (s)")
    for ax in axes[1:]:
        for k, p in enumerate(result.plan.phases):
            ax.axvspan(p.start_s, p.end_s, color=_PHASE_COLOURS[k % len(_PHASE_COLOURS)],
                       alpha=0.12, lw=0)
            ax.text(p.start_s, 1.0, p.name, transform=ax.get_xaxis_transform(), fontsize=6,
                    va="top")
        ax.tick_params(labelsize=7)
    if len(axes) > 2 and result.plan.phases:
        lo = min(p.start_s for p in result.plan.phases)
        hi = max(p.end_s for p in result.plan.phases)
        for ax in axes[1:]:
            ax.set_xlim(lo, hi)
    axes[0].tick_params(labelsize=7)
    fig.tight_layout()
    from physio.qc_rsp import add_rsp_panel  # respiration panel (physio/qc_rsp.py)
    add_rsp_panel(fig, result)
    return fig


def _plot_tachogram(ax, beats) -> None:
    """RR interval at every beat over the whole recording; corrected beats as red crosses."""
    ax.set_label("tachogram")
    ax.set_ylabel("RR (ms)", fontsize=8)
    if beats is None or not len(beats):
        ax.text(0.5, 0.5, "no beats", ha="center", transform=ax.transAxes)
        return
    t = beats["r_peak_s"].to_numpy(dtype=float)
    rr = beats["rr_ms"].to_numpy(dtype=float)
    corrected = beats["corrected"].to_numpy(dtype=bool)
    tt, yy = _thin(t, rr)
    ax.plot(tt, yy, lw=0.5, color="0.3", label="RR")
    ax.plot(t[corrected], rr[corrected], "x", color="#D55E00", ms=5, gid="corrected_beats",
            label=f"corrected ({int(corrected.sum())})")
    ok = np.isfinite(rr)
    if ok.any():
        # robust limits: a single wild interval must not flatten the whole trace
        lo, hi = np.percentile(rr[ok], [0.5, 99.5])
        pad = 0.15 * max(hi - lo, 50.0)
        ax.set_ylim(lo - pad, hi + pad)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title("RR tachogram (whole recording)", fontsize=9, loc="left")


def save_figure(fig, path: Path) -> None:
    """Save a figure as PNG atomically."""
    import io

    from conditions.bids import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    atomic_write_bytes(Path(path), buf.getvalue())


def write_qc_index(path: Path, rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> None:
    """An HTML page listing every recording with its quality flags, worst first.

    ``rows``: dicts with ``key``, ``png`` (relative path), and the quality flags.
    """
    from conditions.bids import atomic_write_text

    def flag(row: dict[str, Any]) -> tuple[int, str]:
        bad = []
        if row.get("ecg_valid_pct", 100) < 80:
            bad.append(f"ECG valid {row.get('ecg_valid_pct'):.0f}%")
        if row.get("eda_valid_pct", 100) < 80:
            bad.append(f"EDA valid {row.get('eda_valid_pct'):.0f}%")
        if (row.get("corrected_pct") or 0) > 5:
            bad.append(f"corrected {row['corrected_pct']:.1f}%")
        if row.get("non_responder"):
            bad.append("non-responder")
        return len(bad), ", ".join(bad)

    ordered = sorted(rows, key=lambda r: (-flag(r)[0], r["key"]))
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>soothe physio QC</title>",
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
        ".bad{background:#fdd}.ok{background:#dfd}img{width:160px}</style></head><body>",
        f"<h1>Physiology QC: {len(rows)} recordings, {len(failures)} failures</h1>",
    ]
    if failures:
        lines.append("<h2>Failures</h2><table><tr><th>source</th><th>error</th>"
                     "<th>message</th></tr>")
        for f in failures:
            lines.append(
                f"<tr class='bad'><td>{html.escape(str(f.get('source')))}</td>"
                f"<td>{html.escape(str(f.get('error_type')))}</td>"
                f"<td>{html.escape(str(f.get('message')))}</td></tr>"
            )
        lines.append("</table>")
    lines.append(
        "<h2>Recordings (flagged first)</h2><table><tr><th>recording</th><th>condition</th>"
        "<th>windows</th><th>ECG valid %</th><th>EDA valid %</th><th>corrected %</th>"
        "<th>SCRs</th><th>warnings</th><th>flags</th><th>figure</th></tr>"
    )
    for r in ordered:
        n_bad, text = flag(r)
        png = html.escape(str(r.get("png", "")))
        lines.append(
            f"<tr class='{'bad' if n_bad else 'ok'}'><td>{html.escape(r['key'])}</td>"
            f"<td>{html.escape(str(r.get('condition', 'n/a')))}</td>"
            f"<td>{r.get('n_windows', '')}</td><td>{r.get('ecg_valid_pct', '')}</td>"
            f"<td>{r.get('eda_valid_pct', '')}</td><td>{r.get('corrected_pct', '')}</td>"
            f"<td>{r.get('n_scr', '')}</td><td>{r.get('n_warnings', '')}</td>"
            f"<td>{html.escape(text) or 'ok'}</td>"
            f"<td><a href='{png}'><img src='{png}' alt='QC {html.escape(r['key'])}'></a></td>"
            "</tr>"
        )
    lines.append("</table></body></html>")
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
