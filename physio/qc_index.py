"""The QC index page: one row per recording, worst first, with each channel's valid share,
the flags, the review status and a link to the QC figure; then the failed files.

It lives apart from :mod:`physio.qc` (the figures) because it needs no plotting library:
a batch's parent process writes it after its workers drew the figures, and importing
matplotlib there would only cost start-up time.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conditions.bids import atomic_write_text
from physio.qc_valid import CHANNEL_NAMES, worst_valid_pct

__all__ = ["index_flags", "index_order", "review_text", "write_qc_index"]


def index_flags(row: dict[str, Any]) -> list[str]:
    """The QC index's flags of one recording: each channel valid in under 80 % of its
    windows, more than 5 % corrected beats, no SCR at all.

    Examples
    --------
    >>> index_flags({"ecg_valid_pct": 12.0, "eda_valid_pct": None, "resp_valid_pct": 90.0,
    ...              "corrected_pct": 8.0, "non_responder": True})
    ['ECG valid 12%', 'corrected 8.0%', 'non-responder']
    """
    bad = []
    for key, channel in CHANNEL_NAMES.items():
        pct = row.get(key)
        if key == "resp_valid_pct" and row.get("resp_from") == "ecg":
            channel = "ECG-derived breathing"
        if pct is not None and pct < 80:
            bad.append(f"{channel} valid {pct:.0f}%")
    if (row.get("corrected_pct") or 0) > 5:
        bad.append(f"corrected {row['corrected_pct']:.1f}%")
    if row.get("non_responder"):
        bad.append("non-responder")
    return bad


def index_order(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recordings worst first: lowest valid share of any channel
    (:func:`physio.qc_valid.worst_valid_pct`), then most flags, then by name.

    Examples
    --------
    >>> rows = [{"key": "a", "ecg_valid_pct": 100.0}, {"key": "b", "ecg_valid_pct": 30.0},
    ...         {"key": "c", "ecg_valid_pct": 100.0, "non_responder": True}]
    >>> [r["key"] for r in index_order(rows)]
    ['b', 'c', 'a']
    """
    return sorted(rows, key=lambda r: (worst_valid_pct(r), -len(index_flags(r)), r["key"]))


def _pct_cell(row: dict[str, Any], key: str) -> str:
    pct = row.get(key)
    if pct is None:
        return "<td>n/a</td>"
    cls = " class='low'" if float(pct) < 50 else ""
    return f"<td{cls}>{float(pct):.0f}</td>"


def _breathing_cell(row: dict[str, Any]) -> str:
    cell = _pct_cell(row, "resp_valid_pct")
    if row.get("resp_from") == "ecg":
        cell = cell.replace("</td>", " (ECG-derived)</td>")
    return cell


def review_text(review: dict[str, Any] | None) -> str:
    """A recording's review status and hand edits in a few words (QC index).

    ``review`` is the batch record's ``review`` (:func:`physio.batch.recording.review_record`):
    beats added (+), deleted (−) and moved (~), unusable seconds, SCRs, stale edits.

    Examples
    --------
    >>> review_text({"status": "edited", "beats_added": 1, "beats_deleted": 2,
    ...              "beats_moved": 0, "unusable_s": 12.0, "n_stale": 1})
    'edited: +1 −2 beats, 12 s unusable, 1 stale'
    >>> review_text(None)
    'not reviewed'
    """
    if not review:
        return "not reviewed"
    status = str(review.get("status", "not reviewed"))
    if status != "edited":
        return status
    beats = f"+{review.get('beats_added', 0)} −{review.get('beats_deleted', 0)}"
    if review.get("beats_moved"):
        beats += f" ~{review['beats_moved']}"
    parts = [f"{beats} beats"]
    if review.get("unusable_s"):
        parts.append(f"{review['unusable_s']:g} s unusable")
    scr = (review.get("scrs_deleted") or 0, review.get("scrs_restored") or 0)
    if any(scr):
        parts.append(f"SCRs −{scr[0]} +{scr[1]}")
    if review.get("n_stale"):
        parts.append(f"{review['n_stale']} stale")
    return "edited: " + ", ".join(parts)


def _recording_row(r: dict[str, Any]) -> str:
    flags = index_flags(r)
    png = html.escape(str(r.get("png", "")))
    return (
        f"<tr class='{'bad' if flags else 'ok'}'><td>{html.escape(r['key'])}</td>"
        f"<td>{html.escape(str(r.get('condition', 'n/a')))}</td>"
        f"<td>{r.get('n_windows', '')}</td>{_pct_cell(r, 'ecg_valid_pct')}"
        f"{_pct_cell(r, 'eda_valid_pct')}{_breathing_cell(r)}"
        f"<td>{r.get('corrected_pct', '')}</td>"
        f"<td>{r.get('n_scr', '')}</td><td>{r.get('n_warnings', '')}</td>"
        f"<td>{html.escape(', '.join(flags)) or 'ok'}</td>"
        f"<td>{html.escape(review_text(r.get('review')))}</td>"
        f"<td><a href='{png}'><img src='{png}' alt='QC {html.escape(r['key'])}'></a></td>"
        "</tr>"
    )


def write_qc_index(path: Path, rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> None:
    """An HTML page listing every recording with each channel's valid share, worst first.

    ``rows``: dicts with ``key``, ``png`` (relative path), and the quality block
    (``ecg_valid_pct``, ``eda_valid_pct``, ``resp_valid_pct`` and ``resp_from``, as
    :func:`physio.qc_valid.channel_valid_shares` gives them; None or absent: not recorded).
    Order: :func:`index_order`; a share under 50 % is shown in bold red.
    """
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>soothe physio QC</title>",
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
        ".bad{background:#fdd}.ok{background:#dfd}.low{color:#b00;font-weight:bold}"
        "img{width:160px}</style></head><body>",
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
        "<h2>Recordings (worst first: lowest valid share of any channel)</h2><table><tr>"
        "<th>recording</th><th>condition</th><th>windows</th><th>ECG valid %</th>"
        "<th>EDA valid %</th><th>belt / breathing valid %</th><th>corrected %</th>"
        "<th>SCRs</th><th>warnings</th><th>flags</th><th>review</th><th>figure</th></tr>"
    )
    lines += [_recording_row(r) for r in index_order(rows)]
    lines.append("</table></body></html>")
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
