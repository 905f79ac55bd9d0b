"""One participant session: setup -> run -> save.

Setup loads and checks the protocol and all five audio files, takes the start-up entries
(dialog or command line), refuses an ID whose session is complete (or a fresh start over
existing data), allocates through the concealed allocation database (only the neutral
session code is shown), opens the marker back ends, starts the LSL recorder, and opens the
window. Run walks the protocol's timeline; every response and marker is appended and
flushed as it happens. Save always runs (complete, Escape, disk full, error): trigger lines
to 0, the recorder's raw signal to BIDS physio, ``participants.tsv``, the allocation's
session status, the ExperimentHandler CSV (saved after every row; psychopy_records).

Concealment: the allocation's condition is a
:class:`~conditions.allocation.ConcealedCondition`, which prints as a neutral text; it is
revealed only to pick the audio file (:meth:`Session.setup_audio`) and, when the protocol asks
for it, the condition marker. Nothing writes it to a file: ``participants.tsv`` has no
condition column, and by default (``send_condition_code = "never"``) no condition marker is
sent. The allocation database alone holds it until ``soothe allocation export --unblind``.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from conditions import bids
from conditions.allocation import (
    Allocation,
    AllocationDB,
    AllocationError,
    ConcealedCondition,
    is_database_url,
    open_allocation_db,
)
from conditions.protocol import load_protocol
from conditions.questionnaire_items import load_items
from experiment.audio_player import (
    AudioPlayer,
    choose_backend,
    pilot_warning,
    preflight_audio,
    protocol_audio_provenance,
)
from experiment.clocks import core_minus_lsl
from experiment.datafiles import (
    SessionData,
    SessionState,
    drop_torn_tail,
    free_space_mb,
    utc_now,
)
from experiment.dialog import StartInfo, ask_start_info
from experiment.errors import SessionAborted, SessionCancelled, SessionError
from experiment.lab_config import (
    default_lab_config_path,
    describe_missing,
    match_devices,
    read_lab_config,
    visible_from_info,
)
from experiment.lsl_config import keep_lsl_on_machine
from experiment.markers import MarkerSender, SentMarker, open_backends
from experiment.psychopy_records import open_for_session
from experiment.questionnaire_screen import item_order, run_item
from experiment.recorder import LSLRecorder, assemble_physio, last_raw_time
from experiment.screens import (
    BACKGROUND,
    END_TEXT,
    INSTRUCTIONS_TEXT,
    LISTEN_TEXT,
    REST_TEXT,
    Display,
)
from experiment.simulated_participant import SimulatedParticipant
from experiment.timeline import Step, build_timeline, induction_minute_offsets

EXIT_COMPLETE, EXIT_ERROR, EXIT_ABORTED, EXIT_DISK_FULL = 0, 1, 4, 3
EXIT_CANCELLED = 5  # the start-up dialog was cancelled: nothing started (Escape abort is 4)


@dataclass
class SessionOptions:
    """Everything ``soothe run`` can set."""

    data_root: Path
    protocol_path: Path | None = None
    # a local SQLite file, or a "postgresql://..." URL shared by several lab PCs
    db_path: Path | str | None = None
    start_info: StartInfo | None = None  # None: ask with the dialog
    resume: bool = False
    markers: str = "lsl"
    record: bool = True
    # --- stream identity: the physiology streams this session records
    lab_config: Path | None = None  # None: experiment.lab_config.default_lab_config_path()
    devices: tuple | None = None  # StreamSpecs to record instead of the lab config's
    no_physio: bool = False  # the experimenter chose to go on without physiology
    stream_wait_s: float = 3.0  # how long to look for the configured devices at start-up
    fullscreen: bool = True
    screen: int = 0
    window_size: tuple[int, int] = (1024, 768)
    speed: float = 1.0
    simulate: bool = False
    seed: int = 0
    abort_at: str | None = None
    screenshots: Path | None = None
    min_free_mb: float = 500.0
    # the signal check before the baseline (experiment/signals): "live" page, or "skip"
    # (recorded); --simulate always checks automatically
    signal_check: str = "live"
    out: object = field(default=sys.stdout, repr=False)


class Session:
    """A participant session with a setup -> run -> save life cycle."""

    def __init__(self, options: SessionOptions) -> None:
        self.opt = options
        self.protocol = None
        self.data: SessionData | None = None
        self.state: SessionState | None = None
        self.markers: MarkerSender | None = None
        self.recorder = None
        self.win = None
        self.display = None
        self.participant = None
        self.exp = None
        self.audio: AudioPlayer | None = None
        self._condition: ConcealedCondition | None = None
        self._db = None
        self.warnings: list[str] = []
        self.devices: list = []  # the physiology StreamSpecs recorded (lab config)
        self._physio_note = "recorded"
        self._marker_source_id: str | None = None
        self._restart_phases: set[str] = set()  # inductions interrupted by a kill
        self.signal_check: dict | None = None  # set by the signal check (experiment/signals)
        self.records = None  # experiment.psychopy_records.PsychopyRecords

    # ================================================================== helpers
    def say(self, message: str) -> None:
        """Console line for the experimenter (never the condition)."""
        print(f"[soothe] {message}", file=self.opt.out, flush=True)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.say(message)
        if self.data is not None:
            try:
                self.data.log(f"warning\t{message}")
            except OSError:
                pass

    def log(self, message: str) -> None:
        if self.data is not None:
            self.data.log(message)

    def _on_marker(self, marker: SentMarker) -> None:
        self.data.write_event(marker)

    # ================================================================== setup
    def setup(self) -> None:
        """Everything before the first screen, in the order a Builder script does it.

        Each step is a method of its own: the protocol and audio, the allocation database,
        the physiology streams (checked before anyone is allocated), the start-up entries,
        the session's data files and allocation, the run record, the inputs (markers and
        recorder), the clocks, the signal check, the audio and the window.
        """
        audio_files, pilot_note = self.setup_protocol()
        self.setup_allocation_db()
        self.devices, self._physio_note = self._check_streams()  # before any allocation
        info = self.setup_start_info()
        info = self.setup_data(info)
        allocation = self.setup_allocation(info)
        killed_run = self.setup_state(info, allocation)
        run_index, checked = self.setup_run_record(info, audio_files, pilot_note)
        self.setup_participant_row(info, allocation)
        self.setup_inputs(run_index)
        if self._physio_note != "recorded":
            self.log(f"physiology: {self._physio_note}")
        if self.opt.resume:
            self._resume_interrupted(killed_run)
        self.setup_clocks()
        self.data.save_state()
        self.log_run_start(run_index, checked, pilot_note)
        # lazy: the signal check loads scipy.signal; `soothe run --close` needs none of it
        from experiment.signals.session_hook import signal_check_step

        signal_check_step(self)  # the signal check before the baseline
        self.setup_audio()
        self._open_window()

    def setup_protocol(self) -> tuple[dict, str | None]:
        """Load and check the protocol and the five audio files; check the free disk space.

        Returns the audio files' provenance (:func:`protocol_audio_provenance`) and the
        pilot-audio warning (``None`` for real recordings).
        """
        self.protocol = load_protocol(self.opt.protocol_path, check_audio=True)
        durations = preflight_audio(self.protocol)
        self.say(f"protocol OK: {len(self.protocol.phases)} phases; audio of all "
                 f"{len(durations)} conditions present and within tolerance")
        audio_files = protocol_audio_provenance(self.protocol)
        pilot_note = pilot_warning(audio_files)
        if pilot_note:
            self.warn(pilot_note)  # console now; the session log once it exists
        self.check_free_space()
        return audio_files, pilot_note

    def check_free_space(self) -> None:
        """Warn below ``min_free_mb`` free at the data root; refuse to start below 20 MB."""
        root = Path(self.opt.data_root)
        free = free_space_mb(root)
        if free < self.opt.min_free_mb:
            self.warn(f"WARNING only {free:.0f} MB free at {root} (want >= "
                      f"{self.opt.min_free_mb:g} MB); free some space before running a "
                      "participant")
            if free < 20:
                raise SessionError(f"{root}: only {free:.0f} MB free; refusing to start")

    def setup_allocation_db(self) -> None:
        """Open the allocation database (a simulated session creates a missing SQLite file).

        A PostgreSQL database connects here, before the dialog: a failure stops the session
        before anything is recorded.
        """
        db_path = self.opt.db_path or bids.allocation_db_path(Path(self.opt.data_root))
        if not is_database_url(db_path):
            db_path = Path(db_path)
            if not db_path.exists() and self.opt.simulate:
                AllocationDB.create(db_path, self.protocol)
        self._db = open_allocation_db(db_path)

    def setup_start_info(self) -> StartInfo:
        """The start-up entries (command line or dialog); a refused start raises."""
        info = self.opt.start_info or ask_start_info(self._refusal)
        if info is None:
            raise SessionCancelled("start-up dialog cancelled: nothing was started or recorded")
        refusal = self._refusal(info)
        if refusal:
            raise SessionError(refusal)
        return info

    def setup_data(self, info: StartInfo) -> StartInfo:
        """The dataset and this session's files; on resume, the saved age and sex win
        (the stratum was fixed at the first start). Returns the entries to use."""
        root = Path(self.opt.data_root)
        bids.ensure_dataset(root, self.protocol.study_name, self.protocol.task)
        self.data = SessionData(root, info.participant, info.session, self.protocol.task)
        saved = self.data.load_state() if self.opt.resume else None
        if saved is not None and (str(info.age), info.sex) != (saved.age, saved.sex):
            self.warn(f"resume: using the saved age/sex ({saved.age}, {saved.sex}), not the "
                      f"entered ({info.age}, {info.sex})")
            info = replace(info, age=int(saved.age) if saved.age.isdigit() else info.age,
                           sex=saved.sex)
        return info

    def setup_allocation(self, info: StartInfo) -> Allocation:
        """Allocate the participant (or get their allocation back), stratified by sex."""
        strata = {"sex": info.sex}
        allocation = self._db.allocate(info.participant, strata={
            k: strata.get(k, "n/a") for k in self._db.strata_fields
        })
        self._condition = allocation.condition
        return allocation

    def setup_state(self, info: StartInfo, allocation: Allocation) -> dict | None:
        """The session state: a new one, or the saved one on resume. Returns the killed run
        (the last run without an end) when resuming after a kill, else ``None``."""
        killed_run = None
        if self.opt.resume:
            self.state = self.data.load_state()
            self.state.status = "running"
            last = self.state.runs[-1] if self.state.runs else None
            killed_run = last if last is not None and "ended" not in last else None
        else:
            self.state = SessionState(
                subject=info.participant,
                session=info.session,
                session_code=allocation.session_code,
                age=str(info.age),
                sex=info.sex,
                initials=info.initials,
            )
        self.data.state = self.state
        return killed_run

    def setup_run_record(self, info: StartInfo, audio_files: dict, pilot_note: str | None
                         ) -> tuple[int, list[dict]]:
        """Append this run to the state: machine, marker source, streams, checked audio.

        The audio is recorded as the five files' hashes and pilot flags only, sorted by hash,
        never by file or condition name. Returns the run index and that audio list.
        """
        run_index = len(self.state.runs) + 1
        checked = sorted(({"sha256": v["sha256"], "pilot_placeholder": v["pilot_placeholder"]}
                          for v in audio_files.values()), key=lambda v: v["sha256"])
        self.state.audio_files = checked
        self._marker_source_id = (f"soothe_markers-{socket.gethostname()}-{os.getpid()}-"
                                  f"{uuid.uuid4().hex[:12]}")
        self.state.runs.append({"run": run_index, "started": utc_now(),
                                "machine": socket.gethostname(), "resumed": self.opt.resume,
                                "initials": info.initials,
                                "marker_source_id": self._marker_source_id,
                                "physio_streams": [asdict(d) for d in self.devices],
                                "physiology": self._physio_note,
                                "audio_sha256": [v["sha256"] for v in checked],
                                "audio_pilot_placeholder": bool(pilot_note)})
        return run_index, checked

    def setup_participant_row(self, info: StartInfo, allocation: Allocation) -> None:
        """Show the session code and write the participant's ``participants.tsv`` row."""
        self.say(f"participant sub-{info.participant} ses-{info.session}: "
                 f"session code {allocation.session_code}"
                 + (f" (resuming after {self.state.completed_phases or 'nothing'})"
                    if self.opt.resume else ""))
        bids.upsert_participant(Path(self.opt.data_root), {
            "participant_id": f"sub-{info.participant}", "age": info.age, "sex": info.sex,
            "session_code": allocation.session_code, "status": "n/a",
        })

    def setup_inputs(self, run_index: int) -> None:
        """Open the marker back ends and start the LSL recorder of this run."""
        opt = self.opt
        if opt.simulate:
            keep_lsl_on_machine()
        self.markers = MarkerSender(open_backends(opt.markers, self._marker_source_id),
                                    on_sent=self._on_marker, warn=self.warn,
                                    hold_flip_writes=True)
        if opt.record:
            self.recorder = LSLRecorder(self.data.physio_raw_dir, run_index, self.devices,
                                        warn=self.warn, marker_source_id=self._marker_source_id)
            self.recorder.start()
            self.recorder.ready.wait(10)
            names = self.recorder.physio_stream_names
            self.say(f"recording physiology from LSL: {names or 'nothing found yet'}")

    def setup_clocks(self) -> None:
        """Zero the session clocks (LSL and PsychoPy) on a first run; on resume, warn when
        the LSL clock restarted (onsets of this run then differ from the earlier runs')."""
        # lazy: PsychoPy takes seconds to load (`soothe run --close` needs none); liblsl its config
        import pylsl
        from psychopy import core

        if not self.opt.resume:
            self.state.lsl_zero = pylsl.local_clock()
            self.state.psychopy_zero = core.getTime()
        elif pylsl.local_clock() < self.state.lsl_zero:
            self.warn("the LSL clock restarted (machine rebooted?); session-clock onsets of "
                      "this run are not comparable with the earlier runs")

    def log_run_start(self, run_index: int, checked: list[dict], pilot_note: str | None
                      ) -> None:
        """The session log's record of the run start and of the audio checked."""
        self.log(f"run {run_index} started (resume={self.opt.resume}, "
                 f"speed={self.opt.speed:g})")
        self.log("induction audio checked (sha256 pilot_placeholder): " + "; ".join(
            f"{v['sha256']} {str(v['pilot_placeholder']).lower()}" for v in checked))
        if pilot_note:
            self.log(f"warning\t{pilot_note}")

    def setup_audio(self) -> None:
        """Open the allocated condition's audio: the one place its name is revealed."""
        backend = choose_backend("ptb")
        audio = self.protocol.conditions[self._condition.reveal()].audio
        self.audio = AudioPlayer(audio, backend)
        self.say(f"audio back end: {backend}")

    # ---- stream identity ---------------------------------------------------------------
    def _check_streams(self) -> tuple[list, str]:
        """The physiology streams to record, checked before anything is allocated.

        Returns (devices, note). A configured device matched by two visible streams is an
        error naming both; an absent one is an error unless ``no_physio`` (then the session
        goes on without physiology, and the note records that choice).
        """
        opt = self.opt
        if not opt.record:
            return [], "not recorded (--no-record)"
        if opt.no_physio:
            self.warn("going on WITHOUT physiology (--no-physio): only markers are recorded; "
                      "this choice is recorded in the session log and state")
            return [], "none: the experimenter chose to go on without physiology (--no-physio)"
        if opt.simulate:
            keep_lsl_on_machine()
        config = opt.lab_config or default_lab_config_path()
        devices = list(opt.devices) if opt.devices is not None else read_lab_config(config)
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads: after the line above
        import pylsl

        deadline = time.monotonic() + opt.stream_wait_s
        while True:
            visible = [visible_from_info(i) for i in pylsl.resolve_streams(wait_time=1.0)]
            found, missing = match_devices(devices, visible)
            if not missing or time.monotonic() > deadline:
                break
        if missing:
            where = "this session's simulated device" if opt.devices is not None else config
            raise SessionError(describe_missing(missing, visible, where))
        self.say("physiology streams: " + "; ".join(v.describe() for v in found.values()))
        return devices, "recorded"

    # ---- resume after a kill -----------------------------------------------------------
    #: codes used when a protocol defines no ``induction_interrupted``/``induction_restarted``
    DEFAULT_EVENT_CODES = {"induction_interrupted": 4, "induction_restarted": 5}

    def _event_code(self, name: str) -> int:
        return int(self.protocol.markers.events.get(name, self.DEFAULT_EVENT_CODES[name]))

    def _resume_interrupted(self, killed_run: dict | None) -> None:
        """Resume after a kill: keep the killed run's CSV, note an interrupted induction.

        An induction phase with an onset but neither an offset nor an
        ``induction_interrupted`` event after it was cut off mid-audio. Its interruption is
        written to ``_events.tsv`` at the last sign of life of the killed run (its last
        marker or physiology sample), said on the console, and the induction restarts from
        its start (``induction_restarted`` before its new onset).
        """
        data, state = self.data, self.state
        if killed_run is not None:
            self._note_killed_run(killed_run)
        if not data.files.events_tsv.is_file():
            return
        events = bids.read_tsv(data.files.events_tsv, bids.EVENTS_COLUMNS)
        kinds = list(events["trial_type"].astype(str))
        for phase in self.protocol.phases:
            if phase.kind != "induction" or phase.name in state.completed_phases:
                continue
            onset = f"{phase.name}_onset"
            if onset not in kinds:
                continue
            start = len(kinds) - 1 - kinds[::-1].index(onset)
            after = kinds[start + 1:]
            if f"{phase.name}_offset" in after or "induction_interrupted" in after:
                continue
            last_lsl = max(float(events["lsl_time"].astype(float).max()),
                           last_raw_time(data.physio_raw_dir, before_run=len(state.runs)))
            marker = self.markers.send(self._event_code("induction_interrupted"),
                                       "induction_interrupted", lsl_time=last_lsl,
                                       psychopy_time=last_lsl + core_minus_lsl())
            at = data.onset(marker.lsl_time)
            self._restart_phases.add(phase.name)
            state.runs[-1]["induction_restarted"] = {"phase": phase.name,
                                                     "interrupted_at_s": round(at, 3)}
            self.say(f"the {phase.name} phase was interrupted {at:.1f} s into the session "
                     "(the last sign of the killed run); it restarts from its start")
            self.log(f"{phase.name} interrupted at session time {at:.3f} s "
                     f"(lsl {last_lsl:.6f}); restarting it from its start")

    def _note_killed_run(self, killed_run: dict) -> None:
        """Mark the killed run as such. Its PsychoPy CSV needs no rebuilding: the
        ExperimentHandler file was saved after every row, each row before its ``_beh.tsv``
        line, so it holds every answer on disk at the kill."""
        run = killed_run.get("run", len(self.state.runs))
        killed_run.update({"ended": None, "outcome": "killed"})
        kept = killed_run.get("psychopy_csv")
        self.log(f"run {run} was killed; its PsychoPy CSV is kept as saved row by row"
                 + (f": {kept}" if kept else " (none: killed before its window opened)"))

    def _refusal(self, info: StartInfo) -> str | None:
        """Why this start must be refused (None when it may go ahead)."""
        root = Path(self.opt.data_root)
        status = self._db.session_status(info.participant) if self._db else None
        table = bids.read_participants(root)
        row = table[table["participant_id"] == f"sub-{info.participant}"]
        done = status == "complete" or (len(row) and str(row["status"].iloc[0]) == "complete")
        if done:
            return (f"participant {info.participant} already has a complete session; "
                    "check the ID")
        data = SessionData(root, info.participant, info.session,
                           self.protocol.task if self.protocol else "induction")
        if self.opt.resume:
            if data.load_state() is None:
                return (f"nothing to resume for sub-{info.participant} ses-{info.session} "
                        f"(no {data.state_path})")
        elif data.has_any_data():
            return (f"sub-{info.participant} ses-{info.session} already has data; use --resume "
                    "to continue it (nothing is ever overwritten)")
        return None

    def _open_window(self) -> None:
        """Open the window, the simulated participant (``--simulate``), the display and the
        PsychoPy records (frame rate; the ExperimentHandler's files, saved after every row)."""
        # lazy: PsychoPy takes seconds to load; `soothe run --close` opens no window
        from psychopy import logging, visual

        logging.console.setLevel(logging.ERROR)
        opt = self.opt
        self.win = visual.Window(
            size=opt.window_size, fullscr=opt.fullscreen, screen=opt.screen, units="height",
            color=BACKGROUND, allowGUI=False, checkTiming=False, pos=(0, 0),
        )
        self.win.mouseVisible = opt.simulate
        if opt.simulate:
            wid = int(getattr(self.win.winHandle, "_window", 0))
            self.participant = SimulatedParticipant(wid, seed=opt.seed, abort_at=opt.abort_at)
        self.display = Display(
            self.win, log=self.log, screenshot_dir=opt.screenshots,
            on_screen=self.participant.on_screen if self.participant else None,
        )
        self.display.after_flip = self.markers.write_held
        if opt.simulate:
            self.display.frame_sleep_s = 0.005
        self.records = open_for_session(self)
        self.exp = self.records.exp

    # ================================================================== run
    def step_runners(self) -> dict:
        """The method that runs each phase kind (``conditions.protocol.PHASE_KINDS``)."""
        return {
            "instructions": self._run_instructions,
            "rest": self._run_rest,
            "questionnaire": self._run_questionnaire,
            "induction": self._run_induction,
            "end": self._run_end,
        }

    def run(self) -> None:
        """Walk the protocol's timeline: markers around each phase, state saved after it."""
        steps = build_timeline(self.protocol, self.opt.speed, self.state.completed_phases)
        runners = self.step_runners()
        first = True
        for step in steps:
            if first:
                self.markers.send_on_flip(self.win, self.protocol.markers.event("session_start"),
                                          "session_start")
                first = False
            runner = runners[step.kind]
            if step.name in self._restart_phases:  # resume mid-induction: from its start
                self.markers.send_on_flip(self.win, self._event_code("induction_restarted"),
                                          "induction_restarted")
                self.log(f"phase {step.name} restarted from its start (resume)")
            self.markers.send_on_flip(self.win, self.protocol.markers.phase_onset(step.name),
                                      f"{step.name}_onset")
            self.log(f"phase {step.name} ({step.kind}) started")
            self.records.routine_started(step.name)
            runner(step)
            if step.kind != "questionnaire":  # a questionnaire has a row per item
                self.records.routine_ended(step.name)
            self.markers.send(self.protocol.markers.phase_offset(step.name), f"{step.name}_offset")
            self.state.completed_phases.append(step.name)
            self.data.save_state()
        self.markers.send(self.protocol.markers.event("session_end"), "session_end")

    def _info(self, step: Step) -> dict:
        return {"phase": step.name, "phase_kind": step.kind}

    def _run_instructions(self, step: Step) -> None:
        self.display.announce("instructions", INSTRUCTIONS_TEXT, **self._info(step))
        self.display.wait_keys(self.display.draw_instructions, "instructions")

    def _run_rest(self, step: Step) -> None:
        self.display.announce("rest", REST_TEXT, **self._info(step))
        self.display.show_for(self.display.draw_rest, "rest", step.run_s)

    def _run_end(self, step: Step) -> None:
        self.display.announce("end", END_TEXT, **self._info(step))
        self.display.wait_keys(self.display.draw_end, "end")

    def _run_questionnaire(self, step: Step) -> None:
        answered = self.data.answered_items(step.name)
        if answered:
            self.log(f"resume: {len(answered)} item(s) of {step.name} already answered")
        codes = self.protocol.markers
        for qname in step.phase.questionnaires:
            ref = self.protocol.questionnaires[qname]
            items = item_order(load_items(ref.file), ref.randomise_order,
                               self.protocol.randomisation.seed, self.state.subject, step.name)
            for position, item in enumerate(items, start=1):
                if (qname, item.item_id) in answered:
                    continue
                onset_marker: dict[str, SentMarker] = {}

                def on_onset(store=onset_marker) -> None:
                    # on the item's first flip: written with the flip's other markers
                    store["m"] = self.markers.send(codes.event("item_onset"), "item_onset",
                                                   hold=True)

                result = run_item(self.display, item, ref.title or "", position, len(items),
                                  on_onset, self._info(step))
                self.markers.send(codes.event("item_response"), "item_response")
                onset_s = self.data.onset(onset_marker["m"].lsl_time)
                row = {
                    "phase": step.name, "questionnaire": qname, "item_id": item.item_id,
                    "construct": item.construct, "reversed": item.reversed,
                    "position": position, "onset": round(onset_s, 6),
                    "rating": round(result.rating, 4),
                    "response_time": round(result.response_time, 6),
                    "scale_min": item.min, "scale_max": item.max,
                }
                self.records.item_row(row, step.name)  # first: the CSV never lacks a row
                self.data.write_response(row)

    def _run_induction(self, step: Step) -> None:
        # lazy: PsychoPy takes seconds to load; `soothe run --close` opens no window
        from psychopy import core

        codes = self.protocol.markers
        self.display.announce("listening", LISTEN_TEXT, **self._info(step))
        self.display.frame(self.display.draw_listening, "listening")  # phase onset flip
        play_s = self.audio.duration_s / self.opt.speed
        scheduled = self.audio.schedule()
        while core.getTime() < scheduled - 0.005:  # keep the screen alive until onset
            self.display.frame(self.display.draw_listening, "listening")
        onset = self.audio.wait_onset(scheduled)
        to_lsl = -core_minus_lsl()
        self.markers.send(codes.event("audio_onset"), "audio_onset",
                          psychopy_time=onset, lsl_time=onset + to_lsl, hold=True)
        if codes.send_condition_code == "induction_onset":
            code = codes.condition(self._condition.reveal())
            self.markers.send(code, codes.label(code), psychopy_time=onset,
                              lsl_time=onset + to_lsl, hold=True)
        self.markers.write_held()  # both out before either is written
        minutes = induction_minute_offsets(play_s, self.opt.speed, len(codes.induction_minutes))
        stopped = False
        try:
            while True:
                elapsed = core.getTime() - onset
                while minutes and elapsed >= minutes[0][1]:
                    minute, offset = minutes.pop(0)
                    t = onset + offset
                    self.markers.send(codes.induction_minute(minute),
                                      f"induction_minute_{minute}",
                                      psychopy_time=t if minute == 1 else None,
                                      lsl_time=t + to_lsl if minute == 1 else None)
                if self.audio.finished or elapsed >= play_s:
                    break
                self.display.frame(self.display.draw_listening, "listening")
            offset_t = self.audio.stop()
            stopped = True
        finally:
            if not stopped:
                self.audio.stop()
        self.markers.send(codes.event("audio_offset"), "audio_offset",
                          psychopy_time=offset_t, lsl_time=offset_t - core_minus_lsl())

    # ================================================================== save
    def save(self, status: str) -> None:
        """Keep everything: runs whatever happened; each step guarded on its own."""
        steps = [
            # the recorder drains first, so the last markers in flight reach it
            ("stop recorder", self._save_recorder),
            ("reset trigger lines", self._save_markers),
            ("write physio", self._save_physio),
            ("session state", lambda: self._save_state(status)),
            ("participants.tsv", lambda: self._save_participant(status)),
            ("allocation status", lambda: self._db.mark_session(self.state.subject, status)),
            ("PsychoPy CSV", self._save_psychopy_csv),
            ("close window", self._close_window),
        ]
        for what, fn in steps:
            try:
                fn()
            except Exception as exc:  # saving must go on step by step
                self.warn(f"while saving ({what}): {type(exc).__name__}: {exc}")

    def _save_markers(self) -> None:
        if self.markers is not None:
            self.markers.reset()
            self.markers.close()

    def _save_recorder(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()

    def _save_physio(self) -> None:
        if self.recorder is None or self.data is None:
            return
        if assemble_physio(self.data.physio_raw_dir, self.data.files, self.state.lsl_zero):
            self.say(f"physiology written: {self.data.files.physio_tsv_gz}")
        else:
            self.warn("no physiology was recorded in this session")

    def _save_state(self, status: str) -> None:
        if self.state is None:
            return
        self.state.status = status
        self.state.runs[-1].update({"ended": utc_now(), "outcome": status})
        # concealment: the played file's hash would name the condition to anyone holding the
        # audio files; after unblinding it is the condition's file among ``audio_files``
        self.data.save_state()

    def _save_participant(self, status: str) -> None:
        if self.state is None:
            return
        bids.upsert_participant(self.opt.data_root, {
            "participant_id": f"sub-{self.state.subject}",
            "age": self.state.age, "sex": self.state.sex,
            # concealment: no condition column; the allocation database holds it
            "session_code": self.state.session_code, "status": status,
        })

    def _save_psychopy_csv(self) -> None:
        if self.records is not None:  # saved after every row already; final save and close
            self.records.close()

    def _close_window(self) -> None:
        if self.participant is not None:
            self.log(f"simulated participant: {self.participant.retries} input event(s) repeated")
            self.participant.close()
        if self.win is not None:
            self.win.close()
            self.win = None

    # ================================================================== life cycle
    def execute(self) -> int:
        """setup -> run -> save; returns the exit code."""
        try:
            self.setup()
        except SessionCancelled as exc:
            self.say(str(exc))
            return EXIT_CANCELLED
        except SessionAborted as exc:
            self.say(str(exc))
            self.save("incomplete") if self.state else None
            return EXIT_ABORTED
        except BaseException:
            if self.state is not None:
                self.save("incomplete")
            raise
        status, code = "incomplete", EXIT_ERROR
        try:
            self.run()
            if self.protocol.markers.send_condition_code == "end":
                code = self.protocol.markers.condition(self._condition.reveal())
                self.markers.send(code, self.protocol.markers.label(code))
            status, code = "complete", EXIT_COMPLETE
        except SessionAborted as exc:
            self.markers.send(self.protocol.markers.event("session_abort"), "session_abort")
            self.say(f"{exc}; everything recorded so far is kept; session marked incomplete")
            code = EXIT_ABORTED
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            self.say("DISK FULL: the session stopped. Everything written before this moment is "
                     "on disk; free space, then continue with --resume.")
            code = EXIT_DISK_FULL
        finally:
            self.save(status)
        self.say(f"session {status}: sub-{self.state.subject} ses-{self.state.session}, "
                 f"code {self.state.session_code}; data in {self.opt.data_root}")
        return code


def close_session(
    data_root: Path,
    participant: str,
    session: str = "1",
    *,
    protocol_path: Path | None = None,
    db_path: Path | str | None = None,
    out=None,
) -> int:
    """Close a session that was killed (``kill -9``, power cut) and will not be resumed.

    Without opening a window: cuts torn last rows, assembles the BIDS physio from the raw LSL
    files, names each run's PsychoPy CSV (the ExperimentHandler saved it after every row, so
    it already holds every answer in ``_beh.tsv``), and marks the session ``incomplete`` in
    the session state, ``participants.tsv`` and the allocation database. Everything recorded
    is kept; the session can still be continued later with ``--resume``.

    Returns
    -------
    int
        ``EXIT_COMPLETE`` (0) when closed.

    Raises
    ------
    SessionError
        Nothing to close (no saved state) or the session is already complete.
    """
    out = out or sys.stdout

    def say(message: str) -> None:
        print(f"[soothe] {message}", file=out, flush=True)

    root = Path(data_root)
    data, state = load_session_to_close(root, participant, session, protocol_path)
    problems = close_session_files(data, state, say)
    mark_closed_incomplete(root, data, state)
    problems += mark_allocation_incomplete(root, state.subject, db_path)
    data.log("session closed without resuming (--close): marked incomplete"
             + (f"; problems: {'; '.join(problems)}" if problems else ""))
    for problem in problems:
        say(f"WARNING {problem}")
    say(f"session closed as incomplete: sub-{state.subject} ses-{state.session}, code "
        f"{state.session_code}; everything recorded is kept (--resume can still continue it)")
    return EXIT_COMPLETE


def load_session_to_close(root: Path, participant: str, session: str,
                          protocol_path: Path | None = None
                          ) -> tuple[SessionData, SessionState]:
    """The data files and saved state of a session to close.

    Raises
    ------
    SessionError
        Nothing to close (no saved state) or the session is already complete.
    """
    protocol = load_protocol(protocol_path)
    data = SessionData(root, participant, session, protocol.task)
    state = data.load_state()
    if state is None:
        raise SessionError(f"nothing to close for sub-{participant} ses-{session} "
                           f"(no {data.state_path})")
    if state.status == "complete":
        raise SessionError(f"sub-{participant} ses-{session} is already complete "
                           f"({data.state_path}); nothing to close")
    return data, state


def close_session_files(data: SessionData, state: SessionState, say) -> list[str]:
    """Cut torn last rows, assemble the BIDS physio, name each run's PsychoPy CSV.

    Returns the problems met (the raw files stay in ``sourcedata`` whatever happens).
    """
    for path in (data.files.events_tsv, data.files.beh_tsv):
        drop_torn_tail(path)
    problems: list[str] = []
    try:
        if assemble_physio(data.physio_raw_dir, data.files, state.lsl_zero):
            say(f"physiology written: {data.files.physio_tsv_gz}")
        else:
            say("no physiology was recorded in this session")
    except Exception as exc:  # keep closing: the raw files stay in sourcedata
        problems.append(f"physio: {type(exc).__name__}: {exc}")
    for run in state.runs:  # PsychoPy's own CSVs, saved row by row (nothing to rebuild)
        if run.get("psychopy_csv"):
            say(f"run {run.get('run')}: PsychoPy CSV kept as saved row by row: "
                f"{data.files.root / run['psychopy_csv']}")
    return problems


def mark_closed_incomplete(root: Path, data: SessionData, state: SessionState) -> None:
    """Mark the session ``incomplete`` in its state (the killed run, a closing run) and in
    ``participants.tsv``."""
    state.status = "incomplete"
    if state.runs and not {"ended", "closed"} & set(state.runs[-1]):
        state.runs[-1].update({"ended": None, "outcome": "killed"})
    state.runs.append({"run": len(state.runs) + 1, "closed": utc_now(),
                       "machine": socket.gethostname(), "outcome": "closed without resuming"})
    data.state = state
    data.save_state()
    bids.upsert_participant(root, {
        "participant_id": f"sub-{state.subject}", "age": state.age, "sex": state.sex,
        "session_code": state.session_code, "status": "incomplete",
    })


def mark_allocation_incomplete(root: Path, subject: str,
                               db_path: Path | str | None = None) -> list[str]:
    """Mark the participant's session ``incomplete`` in the allocation database.

    Returns the problems met (an unreachable or missing database leaves its status
    unchanged, and the message says so).
    """
    db = db_path or bids.allocation_db_path(root)
    remote = is_database_url(db)
    db = db if remote else Path(db)
    if not (remote or db.is_file()):
        return [f"allocation database {db} not found; its session status is unchanged"]
    try:
        open_allocation_db(db).mark_session(subject, "incomplete")
    except AllocationError as exc:  # the local files are closed; say what is left to do
        return [f"allocation database: {exc}"]
    return []
