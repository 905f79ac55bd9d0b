"""Decide what each channel is (ECG, EDA, respiration, digital or other) from name and units.

Lab exports name channels freely ("EKG - ERS100C", "ECG (.05 - 150 Hz)", "GSR100C",
"Skin conductance", "D0"...), so the choice is a small set of name patterns checked
against the units. The user can always override it (``ecg_channel=``/``eda_channel=``/
``rsp_channel=``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from physio.errors import ChannelError
from physio.recording import Channel

# Names that say "this is the heart signal". ERS100C/ECG100C are BIOPAC amplifier models.
_ECG_NAME = re.compile(r"(ecg|ekg|cardiac|electrocardio|ers100c|ecg100c)", re.IGNORECASE)
# Skin conductance: EDA100C/GSR100C are BIOPAC amplifier models.
_EDA_NAME = re.compile(
    r"(eda|gsr|\bscl\b|skin[ _-]*conduct|electrodermal|galvanic|\bsc\b)", re.IGNORECASE
)
# Respiration belt (BIOPAC RSP100C, "Resp", "breathing belt", pneumograph...); not a
# "Response" button.
_RSP_NAME = re.compile(r"(resp(?!ons)|rsp|respirat|breath|belt|pneumo)", re.IGNORECASE)
# Channels computed from another one (AcqKnowledge calculation channels, exported
# derivatives): never the raw signal, even if they carry the raw signal's name.
_DERIVED_NAME = re.compile(
    r"(differentiat|derivativ|phasic|\bscr\b|heart ?rate|\bhr\b|\bbpm\b|\brate\b|"
    r"\bibi\b|\brr\b|\btonic\b|\bpeaks?\b)",
    re.IGNORECASE,
)
# Digital input lines (BIOPAC "Digital input", STP lines, D0..D7) and trigger channels.
_DIGITAL_NAME = re.compile(
    r"(digital|\bstp\b|^d\d{1,2}$|^din\s*\d*$|^di\s*\d+$|trigger|^trig|^ttl|^stim(ulus)?$|^status$)",
    re.IGNORECASE,
)

ECG_UNITS = {"mv", "v", "uv", "µv", "μv", "volts", "volt", "millivolts", "microvolts", ""}
EDA_UNITS = {
    "us", "µs", "μs", "microsiemens", "microsiemen", "micro siemens", "siemens", "s",
    "kohm", "kω", "kΩ".lower(), "kiloohm", "kiloohms", "ohm", "ω", "mho", "umho", "µmho",
    "",
}  # fmt: skip
#: Units a respiration belt is recorded in (strain-gauge/piezo voltage, arbitrary units,
#: percent of a calibration, chest excursion). Anything else is refused by the pipeline.
RSP_UNITS = {
    "v", "mv", "uv", "volt", "volts", "millivolt", "millivolts", "microvolt", "microvolts",
    "a.u.", "au", "a.u", "arbitrary units", "%", "mm", "cm", "",
}  # fmt: skip


def normalise_units(units: str) -> str:
    """Lower-case, trimmed units with µ/μ spelled consistently.

    Examples
    --------
    >>> normalise_units(" µS ")
    'us'
    """
    text = str(units or "").strip().lower()
    return text.replace("µ", "u").replace("μ", "u").replace("Ω".lower(), "ohm")


def classify_channel(name: str, units: str = "") -> str:
    """Return ``'ecg'``, ``'eda'``, ``'rsp'``, ``'digital'`` or ``'other'`` for one channel.

    The name decides; the units can veto (an "ECG" channel in bpm is a derived heart-rate
    channel, not the signal) and can decide on their own for skin conductance (µS or kΩ
    only ever measure EDA). Millivolts alone decide nothing (EMG, EEG, inputs are in mV).

    Examples
    --------
    >>> classify_channel("EKG - ERS100C", "mV")
    'ecg'
    >>> classify_channel("EDA filtered, differentiated", "microsiemens")
    'other'
    >>> classify_channel("CH3", "microsiemens")
    'eda'
    >>> classify_channel("D2", "")
    'digital'
    >>> classify_channel("RESP - RSP100C", "Volts"), classify_channel("Resp rate", "bpm")
    ('rsp', 'other')
    """
    text = str(name or "")
    u = normalise_units(units)
    if _DERIVED_NAME.search(text):
        return "other"
    if _DIGITAL_NAME.search(text.strip()):
        return "digital"
    if _ECG_NAME.search(text):
        return "ecg" if u in {normalise_units(x) for x in ECG_UNITS} else "other"
    if _EDA_NAME.search(text):
        return "eda" if u in {normalise_units(x) for x in EDA_UNITS} else "other"
    if _RSP_NAME.search(text):
        # any units: a belt in units it cannot be in is refused later with a clear error
        # (physio.rsp.rsp_units), not silently ignored as "other"
        return "rsp"
    if u in {"us", "microsiemens", "microsiemen", "micro siemens", "kohm", "umho"}:
        return "eda"
    return "other"


def assign_kinds(
    channels: Mapping[str, Channel],
    source: Path | str,
    *,
    ecg_channel: str | None = None,
    eda_channel: str | None = None,
    rsp_channel: str | None = None,
    keep_existing: bool = False,
) -> None:
    """Set ``channel.kind`` on every channel (in place), then apply the user's overrides.

    Parameters
    ----------
    channels : mapping of name to Channel
    source : path used in error messages
    ecg_channel, eda_channel, rsp_channel : str, optional
        Names chosen by the user. The named channel becomes the only one of that kind.
    keep_existing : bool
        Keep kinds a reader already set (e.g. from a BIDS sidecar) instead of guessing.

    Raises
    ------
    ChannelError
        When an override names a channel that does not exist (the message lists them).

    Examples
    --------
    >>> import numpy as np
    >>> chans = {"A": Channel("A", np.zeros(3), 10.0, "mV"), "B": Channel("B", np.zeros(3), 10.0)}
    >>> assign_kinds(chans, "x.csv", ecg_channel="A")
    >>> chans["A"].kind
    'ecg'
    """
    for ch in channels.values():
        if not (keep_existing and ch.kind != "other"):
            ch.kind = classify_channel(ch.name, ch.units)
    for kind, chosen in (("ecg", ecg_channel), ("eda", eda_channel), ("rsp", rsp_channel)):
        if chosen is None:
            continue
        if chosen not in channels:
            listing = ", ".join(f"{n!r} ({c.units or 'no units'}, {c.sampling_rate:g} Hz)"
                                for n, c in channels.items())
            raise ChannelError(
                f"{source}: {kind.upper()} channel {chosen!r} not found; "
                f"available channels: {listing or 'none'}"
            )
        for ch in channels.values():
            if ch.kind == kind:
                ch.kind = "other"
        channels[chosen].kind = kind
