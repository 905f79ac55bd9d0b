"""``scipy.signal`` without loading ``scipy.stats`` at import time.

``scipy.signal`` imports ``scipy.stats`` when it is imported (``_peak_finding`` takes
``scoreatpercentile`` from it, for ``find_peaks_cwt``). Loading ``scipy.stats`` builds
every distribution object: 0.3-0.55 s of a ~1.4 s start-up, in every ``soothe physio``
process and batch worker, for a function soothe never calls.

:func:`load` imports ``scipy.signal`` while a placeholder stands in for ``scipy.stats``:
each name taken from it becomes a function that imports the real ``scipy.stats`` when it
is first called. The placeholder is removed straight after, so any later
``import scipy.stats`` loads the real module. If ``scipy.signal`` ever needs more from
``scipy.stats`` at import time than callables (a class to subclass, a constant), the
import fails with the placeholder and is simply done again the ordinary way: the result
is always the real ``scipy.signal``. ``tests/test_scipy_signal_import.py`` lists every
name deferred this way (only ``scoreatpercentile`` with the pinned scipy), so a scipy
upgrade that takes more from ``scipy.stats`` is seen before it could matter.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def _deferred(name: str):
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module("scipy.stats"), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"scipy.stats.{name}, imported on first call (physio.scipy_signal)."
    return call


def load() -> types.ModuleType:
    """The ``scipy.signal`` module, imported without ``scipy.stats`` when possible.

    Examples
    --------
    >>> sps = load()
    >>> sps.__name__, callable(sps.sosfiltfilt)
    ('scipy.signal', True)
    """
    if "scipy.signal" in sys.modules or "scipy.stats" in sys.modules:
        return importlib.import_module("scipy.signal")
    placeholder = types.ModuleType("scipy.stats")

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _deferred(name)

    placeholder.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules["scipy.stats"] = placeholder
    try:
        return importlib.import_module("scipy.signal")
    except Exception:  # noqa: BLE001 - a scipy that needs more of scipy.stats: see above
        for key in [k for k in sys.modules if k == "scipy.signal" or
                    k.startswith("scipy.signal.")]:
            del sys.modules[key]
        if sys.modules.get("scipy.stats") is placeholder:
            del sys.modules["scipy.stats"]
        return importlib.import_module("scipy.signal")
    finally:
        if sys.modules.get("scipy.stats") is placeholder:
            del sys.modules["scipy.stats"]


#: ``from physio.scipy_signal import signal``: the module itself, loaded as above.
signal = load()
