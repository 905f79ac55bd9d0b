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


#: liblsl's log level for the experimenter's console: errors only (no INFO banner lines)
LSL_CONSOLE_LOG = "\n[log]\nlevel = -2\n"


def _active_config_file() -> Path | None:
    """The config file liblsl would load (its own search order), or None."""
    env = os.environ.get("LSLAPICFG")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "lsl_api.cfg", Path.home() / "lsl_api" / "lsl_api.cfg",
                   Path("/etc/lsl_api/lsl_api.cfg")]
    return next((p for p in candidates if p.is_file()), None)


def quiet_lsl() -> str | None:
    """Keep liblsl's INFO banner lines off the console (errors still show).

    liblsl prints "Configuration loaded from ..." and its build string at INFO level when it
    starts. Unless the lab's own config sets a ``[log]`` level, this hands liblsl the same
    config content plus ``[log] level = -2`` (errors only). Must run before the first LSL
    call of the process; returns the content given to liblsl (None when left alone).

    Examples
    --------
    >>> "[log]" in LSL_CONSOLE_LOG
    True
    """
    path = _active_config_file()
    content = path.read_text(encoding="utf-8", errors="replace") if path else ""
    if "[log]" in content:
        return None
    # lazy: liblsl reads its config once, when pylsl loads: after this function set it
    import pylsl

    content += LSL_CONSOLE_LOG
    pylsl.set_config_content(content)
    return content
