"""Zero-phase IIR filtering of long signals with one working copy.

``scipy.signal.sosfiltfilt`` holds the padded signal, the forward pass and the backward
pass at once: three copies of a 40-min 1000 Hz ECG (57 MB) on top of the input, the peak
of a batch worker's memory. :func:`sosfiltfilt_lean` runs the same passes block by block,
writing each block's output back into the one padded copy; the filter state is carried
from block to block, so every sample goes through exactly the arithmetic of scipy's
function and the result is bit-identical (``tests/test_zero_phase.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import sosfilt, sosfilt_zi, sosfiltfilt

#: Samples filtered per block (a few hundred kB of temporaries).
BLOCK = 1 << 16


def sosfiltfilt_lean(sos: np.ndarray, x: np.ndarray, *, block: int = BLOCK) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x)`` (default odd padding) with one working copy.

    Parameters
    ----------
    sos : numpy.ndarray
        Second-order sections (``butter(..., output="sos")``).
    x : numpy.ndarray
        A 1-D signal. Other shapes, and signals no longer than a block, go to scipy.
    block : int
        Samples per block.

    Returns
    -------
    numpy.ndarray
        The same values as scipy's function (a view into the padded working array).

    Examples
    --------
    >>> from scipy.signal import butter, sosfiltfilt
    >>> sos = butter(2, [0.5, 45], btype="bandpass", fs=1000, output="sos")
    >>> x = np.random.default_rng(0).normal(size=300_000)
    >>> bool(np.array_equal(sosfiltfilt_lean(sos, x, block=40_000), sosfiltfilt(sos, x)))
    True
    """
    sos = np.asarray(sos, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if sos.ndim != 2 or sos.shape[1] != 6:
        return sosfiltfilt(sos, x)
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * ntaps  # scipy's default padlen
    n = len(x) if x.ndim == 1 else 0
    if x.ndim != 1 or n <= max(edge, block):
        return sosfiltfilt(sos, x)
    ext = np.empty(n + 2 * edge)
    # odd extension, as scipy.signal._arraytools.odd_ext
    ext[:edge] = 2 * x[0] - x[edge:0:-1]
    ext[edge:edge + n] = x
    ext[edge + n:] = 2 * x[-1] - x[-2:-(edge + 2):-1]
    zi = sosfilt_zi(sos)
    z = zi * ext[0:1]
    for a in range(0, len(ext), block):
        ext[a:a + block], z = sosfilt(sos, ext[a:a + block], zi=z)
    z = zi * ext[-1:]
    for b in range(len(ext), 0, -block):
        a = max(0, b - block)
        out, z = sosfilt(sos, ext[a:b][::-1], zi=z)
        ext[a:b] = out[::-1]
    return ext[edge:edge + n]
