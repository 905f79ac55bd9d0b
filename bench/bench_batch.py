"""Batch throughput on this machine: wall time, recordings per minute, speed-up from 1 to
2 worker processes, and peak memory per worker, on a simulated study of 40-min 1000 Hz
sessions (the default ~28-min protocol plus 6 min of recording before and after it, as
when electrodes settle and the participant is debriefed).

    .venv/bin/python bench/bench_batch.py --participants 135      # the paradigm's size
    .venv/bin/python bench/bench_batch.py --participants 8         # a quick look
    .venv/bin/python bench/bench_batch.py --raw DIR                # reuse a simulated study
    .venv/bin/python bench/bench_batch.py --participants 20 --workers 2   # 2 workers only

Targets (issue 16): 135 sessions in at most 55 s on 2 workers, at most 350 MB per worker.
Besides wall time it prints CPU seconds per recording (the worker's own, all threads), the
figure a shared machine disturbs least. Measured on the 2-core machine, 135 sessions of
37-40 min, 2 workers, four runs (two of them interleaved with the code before the last
round of issue 16, bded9c0): 49.5-51.4 s, 0.68-0.70 CPU s per recording, peak 312-319 MB
per worker, against 56.5-57.7 s and 0.77-0.78 CPU s for bded9c0 (0.88x). The same bded9c0
code took 59.7 s the day before and 65.6 s early the same morning, idle: the machine's
speed drifts by +-10 % from hour to hour, so compare runs made side by side (99.2 s and 455
MB before the belt was processed at ~50 Hz, gzip inflated with ISA-L, the ECG filtered with
one working copy, EDA converted block-wise, the heap trimmed after each read and the inputs
read ahead).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


#: Issue 16: peak resident memory per worker process, and wall time of the paradigm's
#: 135 sessions on 2 workers.
MEMORY_TARGET_MB = 350
WALL_TARGET_S_135 = 55.0


def child(jobs: int, raw: str, deriv: str) -> None:
    from physio.batch import run_batch

    t0 = time.perf_counter()
    summary = run_batch([raw], deriv, jobs=jobs, progress=False)
    wall = time.perf_counter() - t0
    res = summary["results"]
    print(json.dumps({
        "jobs": jobs, "wall_s": wall, "ok": summary["ok"], "failed": summary["failed"],
        "per_recording_s": [r.get("seconds") for r in res],
        "per_recording_cpu_s": [r.get("cpu_seconds") for r in res],
        "recording_min": [r.get("recording_s", 0) / 60 for r in res],
        "worker_peak_rss_mb": max((r.get("worker_peak_rss_mb") or 0) for r in res),
    }))


def run(jobs: int, raw: Path, deriv: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(jobs), str(raw), str(deriv)],
                         cwd=REPO, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=135)
    ap.add_argument("--raw", help="an existing simulated raw dataset")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                    help="worker counts to run (default: 1 2)")
    ap.add_argument("--child", nargs=3, metavar=("JOBS", "RAW", "DERIV"))
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1], args.child[2])
        return
    import os

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(args.raw) if args.raw else Path(tmp) / "raw"
        if not args.raw:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "soothe", "simulate", "--participants",
                            str(args.participants), "--seed", "1", "--out", str(raw),
                            "--record-margin-min", "6", "6", "--jobs", "2", "--quiet"],
                           cwd=REPO, check=True, capture_output=True)
            print(f"simulated {args.participants} sessions in {time.perf_counter() - t0:.0f} s")
        n = len(list(raw.glob("sub-*/ses-*/beh/*_physio.tsv.gz")))
        print(f"{n} recordings at 1000 Hz; {os.cpu_count()} cores; load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"{'workers':>8s} {'wall s':>8s} {'rec/min':>8s} {'s/rec (worker)':>15s} "
              f"{'CPU s/rec':>10s} {'peak RSS/worker MB':>19s}")
        walls, peaks = {}, {}
        for jobs in args.workers:
            r = run(jobs, raw, Path(tmp) / f"deriv{jobs}")
            walls[jobs] = r["wall_s"]
            peaks[jobs] = r["worker_peak_rss_mb"]
            per = [x for x in r["per_recording_s"] if x]
            cpu = [x for x in r.get("per_recording_cpu_s", []) if x]
            if jobs == args.workers[0]:
                mins = sorted(m for m in r["recording_min"] if m)
                print(f"recording length {mins[0]:.1f}-{mins[-1]:.1f} min "
                      f"(median {mins[len(mins) // 2]:.1f})")
            print(f"{jobs:8d} {r['wall_s']:8.1f} {60 * r['ok'] / r['wall_s']:8.1f} "
                  f"{sum(per) / max(1, len(per)):15.2f} {sum(cpu) / max(1, len(cpu)):10.2f} "
                  f"{r['worker_peak_rss_mb']:19.0f}"
                  + (f"  ({r['failed']} failed)" if r["failed"] else ""))
        if 1 in walls and 2 in walls:
            print(f"speed-up 1 -> 2 workers: {walls[1] / walls[2]:.2f}x")
        if 2 in walls:
            scaled = walls[2] * 135 / max(1, n)
            print(f"2 workers: {walls[2] / max(1, n):.2f} s per recording -> {scaled:.0f} s "
                  f"for 135 at this rate (target <= {WALL_TARGET_S_135:.0f} s)")
        worst = max(peaks.values())
        print(f"peak RSS per worker {worst:.0f} MB vs target {MEMORY_TARGET_MB} MB: "
              f"{'met' if worst <= MEMORY_TARGET_MB else 'NOT met'}")


if __name__ == "__main__":
    main()
