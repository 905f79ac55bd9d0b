"""The physiology methods and the provenance warning, written from real derivatives.

One small study (10 participants, 250 Hz) is simulated, processed by ``soothe physio
process`` and analysed by ``soothe analyze``; the methods section, the checklist and the
provenance warning are then checked against what the sidecars say.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.physio_methods import (
    REQUIRED_KEYS,
    TO_REPORT,
    checklist_table,
    methods_paragraphs,
    physio_methods_summary,
)
from analysis.provenance import physio_provenance, provenance_warning
from conditions import bids
from soothe.cli import main as soothe_main


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("methods")
    assert soothe_main(["simulate", "--participants", "10", "--seed", "3", "--fs", "250",
                        "--out", str(root / "raw"), "--quiet"]) == 0
    assert soothe_main(["physio", "process", str(root / "raw"), "--out", str(root / "deriv"),
                        "--no-progress"]) == 0
    assert soothe_main(["analyze", str(root / "raw"), str(root / "deriv"), "--out",
                        str(root / "report")]) == 0
    return root


def _summary(root: Path, deriv: str = "deriv") -> dict:
    windows = bids.read_tsv(bids.group_windows_paths(root / deriv)[0])
    return physio_methods_summary(root / "raw", root / deriv, windows)


def test_every_item_the_data_determine_has_a_value(study):
    summary = _summary(study)
    table = checklist_table(summary).set_index("item")
    for key in REQUIRED_KEYS:
        item = summary["items"][key]
        assert item["value"] and item["value"] != TO_REPORT, key
        assert item["source"], key
    hand = table[table["value"] == TO_REPORT]
    assert {"Room temperature and humidity", "Time of day of the sessions",
            "Medication, caffeine, nicotine, alcohol, exercise"} <= set(hand.index)
    assert summary["items"]["ecg_sampling_rate"]["value"] == "250 Hz"
    assert summary["items"]["scr_criterion"]["value"] == "0.05 µS"
    assert summary["items"]["manual_corrections"]["value"] == "none recorded"
    cb = summary["corrected_beats"]
    assert cb["n"] == 10 and cb["min"] <= cb["mean"] <= cb["max"]


def test_report_has_the_methods_section_and_the_checklist_csv(study):
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Physiology methods" in md
    assert "R peaks were detected with the" in md
    assert "amplitude criterion of 0.05 µS" in md
    csv = pd.read_csv(study / "report" / "tables" / "physio_methods_checklist.csv")
    assert list(csv.columns) == ["checklist", "item", "value", "source"]
    side = json.loads((study / "report" / "report.json").read_text(encoding="utf-8"))
    assert side["physio_methods"]["n_with_sidecar"] == 10


def test_a_plain_study_has_no_provenance_warning(study):
    summary = physio_provenance(study / "raw", study / "deriv")
    assert provenance_warning(summary) == ""
    assert len(summary["settings"]) == 1 and summary["settings"][0]["n"] == 10
    md = (study / "report" / "report.md").read_text(encoding="utf-8")
    assert "NOT all processed" not in md


def test_one_recording_with_another_scr_threshold_gives_exactly_that_warning(study):
    deriv = study / "deriv_mixed"
    shutil.copytree(study / "deriv", deriv)
    physio = next((study / "raw").glob("sub-002/ses-1/beh/*_physio.tsv.gz"))
    assert soothe_main(["physio", "process", str(physio), "--out", str(deriv),
                        "--scr-threshold", "0.1", "--force", "--no-progress"]) == 0
    summary = physio_provenance(study / "raw", deriv)
    others = [f"sub-{i:03d}_ses-1" for i in range(1, 11) if i != 2]
    assert summary["setting_differences"] == [{"setting": "scr_min_amplitude_us", "values": {
        "0.05": others, "0.1": ["sub-002_ses-1"]}}]
    assert provenance_warning(summary) == (
        "The recordings were NOT all processed with the same settings and code: "
        "scr_min_amplitude_us = 0.1 for sub-002_ses-1 (0.05 for the other 9). Re-run soothe "
        "physio process with one set of settings for a consistent dataset.")
    # the methods name both criteria, each with its recordings
    text = " ".join(methods_paragraphs(_summary(study, "deriv_mixed")))
    assert "0.05 µS (9 recordings); 0.1 µS (1 recording)" in text


def test_the_methods_sentence_follows_the_scr_threshold(study):
    deriv = study / "deriv_01"
    assert soothe_main(["physio", "process", str(study / "raw"), "--out", str(deriv),
                        "--scr-threshold", "0.1", "--no-progress"]) == 0
    before = " ".join(methods_paragraphs(_summary(study)))
    after = " ".join(methods_paragraphs(_summary(study, "deriv_01")))
    assert "amplitude criterion of 0.05 µS" in before
    assert "amplitude criterion of 0.1 µS" in after
    assert "0.05 µS" not in after


def test_the_quality_rules_are_written_from_the_sidecar() -> None:
    from analysis.physio_methods import quality_items, quality_paragraph

    block = {"methods": {"ecg_quality": {
        "method": "template correlation", "window_corr_min": 0.7, "max_unmatched_share": 0.2,
        "beat_corr_min": 0.5, "min_coverage": 0.5, "hr_range_bpm": [40.0, 180.0],
        "quality_band_hz": [0.5, 25.0], "citations": ["Orphanidou 2015"]}}}
    items = quality_items({"sub-1_ses-1": block})
    assert ">= 0.7," in items["ecg_quality_rule"]["value"]
    assert items["eda_artefact_rule"]["value"] == ""  # not in this sidecar: not invented
    paragraph = quality_paragraph(items)
    assert paragraph.startswith("No value was reported") and "ECG: template correlation" in \
        paragraph and "Skin conductance" not in paragraph
    assert quality_paragraph(quality_items({"old": {"methods": {}}})) is None


def test_the_breathing_sentence_names_the_counter_and_the_quality_rule(study):
    text = " ".join(methods_paragraphs(_summary(study)))
    assert ("the rate reported per window is that of count-adv (Schäfer & Kratky 2008)"
            in text)
    assert "only where the belt passes its quality rule" in text
    # a sidecar without the belt counter (older soothe): the filter alone, nothing invented
    from analysis.physio_methods import breathing_sentence

    assert breathing_sentence("0.05-0.7 Hz", "") == (
        "Breathing rate was measured from the belt (0.05-0.7 Hz).")


def test_the_eda_filter_and_rise_times_come_from_the_sidecar(study):
    items = _summary(study)["items"]
    assert items["eda_filter"]["value"].startswith("Butterworth low-pass, 4th order, zero phase")
    assert "methods.eda.lowpass_filter" in items["eda_filter"]["source"]
    assert items["scr_rise_time"]["source"].endswith("methods.eda.scr_rise_s")
