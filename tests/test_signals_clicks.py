"""The live signal check's buttons, clicked in headless Chromium on the real page.

The other signal-check tests call the functions behind the buttons; here a browser clicks
them (playwright driving the system's Chromium), and the check's state follows: a deep
breath is cued on the device's cue stream, the 'inverted ECG' box accepts an inverted lead,
and 'Signals OK: continue' ends the check with that outcome, said on the page.
"""

from __future__ import annotations

import time

import pytest
from test_signals_session import _chromium, lsl_env  # noqa: F401  (fixture)


def _wait(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_live_checks_buttons_clicked_in_a_browser(lsl_env, monkeypatch):  # noqa: F811
    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra)")
    monkeypatch.setenv("LSLAPICFG", lsl_env["LSLAPICFG"])
    from experiment.signals.cli import start_simulated_device, stop_device, wait_for_streams
    from experiment.signals.monitor import SignalMonitor
    from experiment.signals.page import CheckState, serve, stop_server

    device, sid = start_simulated_device("ecg_inverted", 250.0, 5)
    monitor = SignalMonitor([sid], warn=print)
    monitor.start()
    box = thread = None
    try:
        wait_for_streams(monitor)
        state = CheckState()
        box, port, thread = serve(monitor, state)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
                breath = page.get_by_role("button", name="Deep breath now")
                breath.wait_for(timeout=60_000)
                assert monitor.cues == [] and state.outcome is None

                breath.click()
                assert _wait(lambda: len(monitor.cues) == 1), "the click cued no deep breath"

                assert state.inverted_ok is False
                page.get_by_text("inverted ECG (this lead placement)").wait_for()
                page.locator("input[type=checkbox]").check()  # the page's only box
                assert _wait(lambda: state.inverted_ok is True), "the box did not reach the check"

                page.get_by_role("button", name="Signals OK: continue").click()
                assert state.done.wait(30), "the click did not end the check"
                assert state.outcome == "continue"
                page.get_by_text("Check ended: continuing").wait_for(timeout=30_000)
            finally:
                browser.close()
    finally:
        if box is not None:
            stop_server(box, thread)
        monitor.stop()
        stop_device(device)
