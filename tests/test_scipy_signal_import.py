"""scipy.signal is loaded without scipy.stats, and scipy.stats still works (issue 16)."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()


def test_scipy_signal_without_scipy_stats_and_stats_afterwards():
    code = (
        "import sys\n"
        "from physio.scipy_signal import signal\n"
        "print(signal.__name__, 'scipy.stats' in sys.modules)\n"
        "import numpy as np\n"
        "from scipy.signal import find_peaks_cwt\n"  # calls scoreatpercentile inside
        "x = np.sin(np.linspace(0, 20, 2000)) ** 8\n"
        "print(len(find_peaks_cwt(x, np.arange(5, 30))) > 0)\n"
        "import scipy.stats\n"
        "print(type(scipy.stats.norm).__name__, scipy.stats.scoreatpercentile([1, 2, 3], 50))\n"
    )
    assert _run(code) == ["scipy.signal", "False", "True", "norm_gen", "2.0"]


def test_falls_back_to_the_ordinary_import():
    # a scipy whose signal module needs more than callables from scipy.stats at import time
    code = (
        "import importlib, sys\n"
        "real = importlib.import_module\n"
        "def fake(name, *a):\n"
        "    stats = sys.modules.get('scipy.stats')\n"
        "    if name == 'scipy.signal' and stats is not None and "
        "not hasattr(stats, '__file__'):\n"
        "        real('scipy.signal._peak_finding')\n"  # a partial import, then the failure
        "        raise TypeError('cannot subclass a deferred name')\n"
        "    return real(name, *a)\n"
        "importlib.import_module = fake\n"
        "from physio.scipy_signal import signal\n"
        "print(signal.__name__, 'scipy.stats' in sys.modules, callable(signal.butter))\n"
    )
    assert _run(code) == ["scipy.signal", "True", "True"]


def test_only_the_expected_name_is_deferred():
    # a scipy upgrade whose signal package takes more from scipy.stats at import time (or
    # holds the module itself) fails here, before anything could call a placeholder
    code = (
        "import sys, types\n"
        "import physio.scipy_signal\n"
        "found = []\n"
        "for name, mod in list(sys.modules.items()):\n"
        "    try:\n        items = list(vars(mod).items())\n"
        "    except TypeError:\n        continue\n"
        "    for key, value in items:\n"
        "        if isinstance(value, types.ModuleType) and value.__name__ == 'scipy.stats' "
        "and not hasattr(value, '__file__'):\n"
        "            found.append(name + ':' + key + ':module')\n"
        "        doc = getattr(value, '__doc__', None)\n"
        "        if isinstance(doc, str) and '(physio.scipy_signal)' in doc:\n"
        "            found.append(name + ':' + key)\n"
        "print(' '.join(sorted(found)))\n"
    )
    assert _run(code) == ["scipy.signal._peak_finding:scoreatpercentile"]
