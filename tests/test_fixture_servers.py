"""The test servers (Xvfb, jackd) die with the test process even when it is killed hard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from experiment_fixtures import REPO


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_server_started_by_a_killed_test_process_dies_with_it():
    # a stand-in test process starts a long-lived "server" as the fixtures do, prints its
    # pid, and is then killed with SIGKILL: no tear-down runs
    code = textwrap.dedent("""
        import subprocess, sys, time
        sys.path.insert(0, "tests")
        from experiment_fixtures import die_with_this_process
        p = subprocess.Popen(["sleep", "120"], preexec_fn=die_with_this_process)
        print(p.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # alive while its parent lives
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # reap it if it became our zombie (it is the killed process's child, so init reaps)
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail(f"pid {child} outlived the killed test process")
