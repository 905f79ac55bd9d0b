"""The one file checksum of the project: SHA-256 of a file's bytes.

Every sidecar, audio provenance record and up-to-date check names its inputs by this digest,
so all layers (``conditions``, ``experiment``, ``physio``, ``analysis``) import it from here,
the lowest layer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Bytes read at a time: audio and physiology files are tens to hundreds of MB.
CHUNK_BYTES = 1 << 20


def sha256_file(path: str | Path, chunk: int = CHUNK_BYTES) -> str:
    """SHA-256 hex digest of a file, read in chunks of ``chunk`` bytes.

    Parameters
    ----------
    path : str or Path
        The file.
    chunk : int
        Bytes read at a time (the digest does not depend on it).

    Returns
    -------
    str
        The 64-character lower-case hex digest.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
