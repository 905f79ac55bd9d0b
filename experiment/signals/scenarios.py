"""Simulated electrode faults with known answers, for the signal check and its tests.

Each scenario is the simulated device's clean signal
(:class:`experiment.physio_generator.PhysioGenerator`: ECG in mV, EDA in µS, belt in V) with
one fault applied, and the verdict the check must give per channel. The faults imitate what
a lab sees:

==================  =============================================================  =========
scenario            what happens to the signal                                     expected
==================  =============================================================  =========
good                nothing                                                        all good
ecg_lead_off        ECG is amplifier noise only (3 µV): a flat line                ECG: no signal
ecg_inverted        ECG multiplied by -1 (leads swapped)                           ECG: check
ecg_mains           2.5 mV of 50 Hz hum (+ harmonics) on a 1 mV ECG                ECG: check
eda_off             EDA reads 0 µS (open circuit) with 1 nS of noise               EDA: no signal
eda_saturated       EDA level 45 µS on an amplifier whose rail is 40 µS            EDA: check
eda_nonresponder    low tonic level (1.5 µS), no SCR at all, none to a deep breath  EDA: check
resp_loose          belt moves 3 % of normal, under 1-8 Hz rubbing (0.08 V each)  RESP: check
==================  =============================================================  =========

Examples
--------
>>> sig = scenario_signals("ecg_inverted", seconds=2, fs=100.0)
>>> sig["ECG"].shape, bool(sig["ECG"].min() < -0.8)
((200,), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experiment.physio_generator import PhysioGenerator

# the verdict statuses (as in experiment.signals.verdict; not imported from there, so the
# simulated device starts without loading scipy.signal, which takes seconds on a busy machine)
GOOD, CHECK, NO_SIGNAL = "good", "check electrodes", "no signal"

SCENARIOS: dict[str, str] = {
    "good": "good signals on every channel",
    "ecg_lead_off": "ECG lead off (flat line)",
    "ecg_inverted": "inverted ECG (leads swapped)",
    "ecg_mains": "ECG drowned in mains noise",
    "eda_off": "EDA electrode off",
    "eda_saturated": "EDA saturated (above the amplifier range)",
    "eda_nonresponder": "EDA non-responder to the deep breath",
    "resp_loose": "respiration belt loose",
}

#: the verdict status the check must give, per scenario and channel
EXPECTED: dict[str, dict[str, str]] = {
    name: {"ECG": GOOD, "EDA": GOOD, "RESP": GOOD} for name in SCENARIOS
}
EXPECTED["ecg_lead_off"]["ECG"] = NO_SIGNAL
EXPECTED["ecg_inverted"]["ECG"] = CHECK
EXPECTED["ecg_mains"]["ECG"] = CHECK
EXPECTED["eda_off"]["EDA"] = NO_SIGNAL
EXPECTED["eda_saturated"]["EDA"] = CHECK
EXPECTED["eda_nonresponder"]["EDA"] = CHECK
EXPECTED["resp_loose"]["RESP"] = CHECK

EDA_RAIL_US = 40.0
_RUB = ((1.3, 0.2), (2.1, 1.9), (3.7, 0.7), (5.3, 2.8), (7.9, 4.1))  # Hz, phase


def check_scenario(name: str) -> str:
    """``name`` if it is a known scenario, else a ValueError listing them."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    return name


def generator_options(name: str) -> dict:
    """Keyword arguments of :class:`PhysioGenerator` for a scenario (always with a belt)."""
    check_scenario(name)
    if name == "eda_nonresponder":
        return {"resp": True, "spontaneous_scr": False, "breath_response_us": 0.0,
                "tonic_us": 1.5}
    return {"resp": True}


def apply_fault(name: str, t: np.ndarray, chunk: np.ndarray, rng: np.random.Generator
                ) -> np.ndarray:
    """The scenario's fault applied to a clean (n, 3) chunk (ecg, eda, resp) at times ``t``.

    Stateless in time (it depends on ``t`` only), so it can be applied chunk by chunk.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> out = apply_fault("eda_saturated", np.arange(3) / 100, np.ones((3, 3)), rng)
    >>> out[:, 1].tolist()
    [40.0, 40.0, 40.0]
    """
    check_scenario(name)
    out = np.array(chunk, dtype=np.float64, copy=True)
    n = len(out)
    if name == "ecg_lead_off":
        out[:, 0] = rng.normal(0, 0.003, n)
    elif name == "ecg_inverted":
        out[:, 0] = -out[:, 0]
    elif name == "ecg_mains":
        hum = (2.5 * np.sin(2 * np.pi * 50 * t) + 0.6 * np.sin(2 * np.pi * 150 * t + 0.4)
               + 0.3 * np.sin(2 * np.pi * 100 * t + 1.1))
        out[:, 0] += hum
    elif name == "eda_off":
        out[:, 1] = np.abs(rng.normal(0, 0.001, n))
    elif name == "eda_saturated":
        out[:, 1] = np.minimum(out[:, 1] + 40.0, EDA_RAIL_US)
    elif name == "resp_loose":
        # the belt barely follows the chest; rubbing and slipping add 1-8 Hz movement (a
        # function of time only, so it looks the same at any sampling rate)
        rub = sum(0.08 * np.sin(2 * np.pi * f * t + ph) for f, ph in _RUB)
        out[:, 2] = 0.03 * out[:, 2] + rub + rng.normal(0, 0.01, n)
    return out.astype(np.float32)


def scenario_signals(name: str, seconds: float, fs: float = 500.0, *,
                     cues_s: Sequence[float] = (), seed: int = 0) -> dict[str, np.ndarray]:
    """``seconds`` of a scenario's three channels, offline (for tests and examples).

    ``cues_s`` are the times (s) the participant is asked for a deep breath.
    """
    gen = PhysioGenerator(fs, seed, **generator_options(name))
    for cue in cues_s:
        gen.deep_breath(cue)
    n = int(round(seconds * fs))
    t = np.arange(n) / fs
    raw = gen.next_chunk(n)
    data = apply_fault(name, t, raw, np.random.default_rng(seed + 1))
    return {"ECG": data[:, 0], "EDA": data[:, 1], "RESP": data[:, 2]}
