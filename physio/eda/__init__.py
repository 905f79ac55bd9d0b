"""EDA processing: units, cleaning, tonic/phasic split, SCRs, signal quality, windows."""

from physio.eda.eda_clean import eda_clean, eda_decimate, eda_lowpass, eda_to_microsiemens
from physio.eda.eda_decompose import eda_decompose
from physio.eda.eda_process import EdaResult, eda_process, eda_window
from physio.eda.eda_quality import eda_quality
from physio.eda.eda_scr import eda_scr

__all__ = [
    "EdaResult",
    "eda_clean",
    "eda_decimate",
    "eda_lowpass",
    "eda_decompose",
    "eda_process",
    "eda_quality",
    "eda_scr",
    "eda_to_microsiemens",
    "eda_window",
]
