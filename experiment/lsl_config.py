"""Keep LabStreamingLayer traffic on this machine (tests and the simulated session).

liblsl reads the file named by the ``LSLAPICFG`` environment variable once, when it loads,
so :func:`keep_lsl_on_machine` must run before ``pylsl`` is first imported in a process.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LSL_MACHINE_ONLY_CFG = """[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
[lab]
KnownPeers = {127.0.0.1}
"""


def write_lsl_config(path: str | Path) -> Path:
    """Write an ``lsl_api.cfg`` that keeps LSL on the machine and return its path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_lsl_config(pathlib.Path(tempfile.mkdtemp()) / "lsl_api.cfg")
    >>> "ResolveScope = machine" in p.read_text()
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LSL_MACHINE_ONLY_CFG, encoding="ascii")
    return path


def keep_lsl_on_machine() -> Path:
    """Point ``LSLAPICFG`` at a machine-only config unless one is set already.

    Returns the config path in use. Call before importing ``pylsl``.
    """
    current = os.environ.get("LSLAPICFG")
    if current and Path(current).is_file():
        return Path(current)
    path = write_lsl_config(Path(tempfile.gettempdir()) / f"soothe_lsl_{os.getuid()}.cfg")
    os.environ["LSLAPICFG"] = str(path)
    return path
