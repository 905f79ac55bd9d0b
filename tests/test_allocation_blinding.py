"""Blinded by default: after real sessions (``soothe run --simulate`` under Xvfb
with JACK and LSL), no file outside the allocation database names or codes a condition,
until ``soothe allocation export --unblind`` writes the analysis copy."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    jack_server,
    psychopy_home,
    session_env,
    short_protocol,
    soothe_run,
    xvfb_display,
)

from conditions import bids
from conditions.allocation import AllocationDB
from conditions.protocol import CONDITION_NAMES, load_protocol
from experiment.allocation_cli import main as cli_main

pytestmark = [pytest.mark.screen, pytest.mark.audio]
# identical in every study (they describe columns, not participants): left out of the scan
DATASET_LEVEL = {"README", "dataset_description.json", "participants.json", ".bidsignore"}


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def _files_outside_the_database(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "allocation.sqlite" in path.name:
            continue
        if path.parent == root and (path.name in DATASET_LEVEL or path.name.endswith(".json")):
            continue
        out.append(path)
    return out


def test_no_file_outside_the_database_names_a_condition_until_unblinding(
        tmp_path, session_env, short_protocol):  # noqa: F811
    root = tmp_path / "data"
    args = ["--simulate", "--protocol", str(short_protocol), "--data", str(root)]
    done = soothe_run(session_env, *args, "--participant", "blind1")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    aborted = soothe_run(session_env, *args, "--participant", "blind2",
                         "--abort-at", "pre_questionnaire")
    assert aborted.returncode == 4, aborted.stdout[-2000:] + aborted.stderr[-2000:]

    protocol = load_protocol(short_protocol)
    words = [w.lower() for w in (*CONDITION_NAMES,
                                 *(c.label for c in protocol.conditions.values()))]
    codes = {protocol.markers.condition(name) for name in protocol.condition_names}
    for proc in (done, aborted):
        assert not [w for w in words if w in (proc.stdout + proc.stderr).lower()]
    files = _files_outside_the_database(root)
    assert any(p.name.endswith("_events.tsv") for p in files)
    assert any(p.name.endswith("_physio.tsv.gz") for p in files)
    # the audio files' hashes: a file may list all five (reveals nothing), never single out one
    import hashlib

    hashes = {hashlib.sha256(Path(c.audio).read_bytes()).hexdigest()
              for c in protocol.conditions.values()}
    assert len(hashes) == 5
    for path in files:
        text = _text(path).lower()
        assert not [w for w in words if w in text], path
        assert len({text.count(h) for h in hashes}) == 1, path  # each as often as the others
    # no condition marker in _events.tsv
    for pid in ("blind1", "blind2"):
        events = bids.read_tsv(bids.SessionFiles(root, pid, "1", "induction").events_tsv,
                               bids.EVENTS_COLUMNS)
        assert not set(events["value"].astype(int)) & codes, pid
        assert not events["trial_type"].astype(str).str.startswith("condition").any(), pid
    # (the recorded marker stream holds what the session sent, i.e. these events: checked by
    # test_experiment_session's recorded-versus-events test; not re-checked here, because until
    # streams carry a session's own identity another session on this machine can be recorded)
    # participants.tsv: no condition column at all
    header = bids.participants_tsv(root).read_text().splitlines()[0].split("\t")
    assert "condition" not in header
    assert bids.read_participants(root)["status"].tolist() == ["complete", "incomplete"]

    # unblinding writes the analysis copy, which read_participants then uses
    db_path = bids.allocation_db_path(root)
    assert cli_main(["export", "--db", str(db_path), "--unblind",
                     "--yes-i-am-unblinding", "test", "--by", "ZZ"]) == 0
    db = AllocationDB(db_path)
    table = bids.read_participants(root)
    assert dict(zip(table["participant_id"], table["condition"])) == {
        f"sub-{p}": db.lookup(p).condition.reveal() for p in ("blind1", "blind2")}
