"""Signal-check verdicts: accuracy per scenario, and how far each deciding number sits from
its threshold (the sensitivity of the constants in experiment/signals/verdict.py and,
for the belt, physio/rsp/rsp_quality.py).

For every scenario and seed, 10 s of the simulated device's signal (offline, the same
generator and faults the device streams, a deep-breath cue 2 s in) are judged. Printed:

- the share of runs whose verdicts match the scenario's expected ones, at each rate;
- for each rule, the deciding number in the runs that must pass and in the runs that must
  fail, next to its threshold, and the verdict accuracy when the threshold is halved or
  doubled.

    .venv/bin/python bench/bench_signals_verdicts.py --seeds 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiment.signals import verdict as vd  # noqa: E402
from experiment.signals.scenarios import EXPECTED, SCENARIOS, scenario_signals  # noqa: E402
from physio.rsp import rsp_quality as rq  # noqa: E402

#: rule -> (constant name, metric key, channel, scenario that must fail, failing side)
RULES = {
    "ECG flat line": ("ECG_FLAT_MV", "range_mv", "ECG", "ecg_lead_off", "below"),
    "mains hum": ("MAINS_RATIO", "mains_ratio", "ECG", "ecg_mains", "above"),
    "deep-breath SCR": ("SCR_MIN_US", "breath_rise_us", "EDA", "eda_nonresponder", "below"),
    "EDA electrode off": ("EDA_OFF_US", "level_us", "EDA", "eda_off", "below"),
    "belt loose": ("MIN_BAND_SHARE", "band_share", "RESP", "resp_loose", "below"),
}
#: where each constant lives (the belt's is the pipeline's, read at call time)
HOME = {"MIN_BAND_SHARE": rq}


def judge(sig: dict, fs: float) -> dict[str, vd.Verdict]:
    return {"ECG": vd.judge_ecg(sig["ECG"], fs),
            "EDA": vd.judge_eda(sig["EDA"], fs, cues_s=[2.0]),
            "RESP": vd.judge_resp(sig["RESP"], fs)}


def metric(v: vd.Verdict, key: str) -> float:
    if key == "mains_ratio":
        m = v.metrics
        return m.get("mains_mv", np.nan) / max(m.get("ecg_range_mv", np.nan), 1e-12)
    return float(v.metrics.get(key, np.nan))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rates", default="250,500,1000")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    signals = {(name, fs, seed): scenario_signals(name, 10.0, fs, cues_s=[2.0], seed=seed)
               for name in SCENARIOS for fs in rates for seed in range(args.seeds)}

    def accuracy(fs_list=rates) -> dict[str, float]:
        out = {}
        for name in SCENARIOS:
            ok = [all(v.status == EXPECTED[name][k] for k, v in
                      judge(signals[(name, fs, s)], fs).items())
                  for fs in fs_list for s in range(args.seeds)]
            out[name] = float(np.mean(ok))
        return out

    print(f"verdict accuracy, 10 s of signal, {args.seeds} seeds:")
    for fs in rates:
        acc = accuracy([fs])
        print(f"  {fs:6g} Hz  " + "  ".join(f"{k} {v:.0%}" for k, v in acc.items()))
    print("\ndeciding numbers (min..max over seeds and rates) against each threshold:")
    for rule, (const, key, channel, bad, side) in RULES.items():
        home = HOME.get(const, vd)
        threshold = getattr(home, const)
        good_vals, bad_vals = [], []
        for (name, fs, _), sig in signals.items():
            if name not in ("good", bad):
                continue
            v = judge(sig, fs)[channel]
            (good_vals if name == "good" else bad_vals).append(metric(v, key))
        g, b = np.asarray(good_vals), np.asarray(bad_vals)
        print(f"  {rule:18s} {const} = {threshold:g}: good {np.nanmin(g):.3g}..{np.nanmax(g):.3g}"
              f"; {bad} {np.nanmin(b):.3g}..{np.nanmax(b):.3g} (must be {side})")
        for factor in (0.5, 2.0):
            setattr(home, const, threshold * factor)
            acc = accuracy()
            setattr(home, const, threshold)
            print(f"      x{factor:g} ({threshold * factor:g}): good {acc['good']:.0%}, "
                  f"{bad} {acc[bad]:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
