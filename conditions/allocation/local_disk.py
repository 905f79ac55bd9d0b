"""Is the allocation database on this PC's local disk? (``/proc/mounts``, UNC paths)

SQLite's WAL mode coordinates writers through shared memory, so every process that uses the
file must run on one machine with the file on that machine's local disk
(https://sqlite.org/wal.html). A database on a network filesystem is therefore refused
(:func:`check_local_disk`); two or more lab PCs use the PostgreSQL back end instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conditions.allocation.errors import AllocationError

# filesystems whose locking SQLite's WAL cannot rely on (https://sqlite.org/wal.html:
# "WAL does not work over a network filesystem"; all processes must be on the same host)
NETWORK_FS_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "coda", "9p",
    "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "davfs", "sshfs", "fuse.sshfs",
    "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "fuse.cephfs",
    "fuse.davfs2", "fuse.curlftpfs", "fuse.smbnetfs", "fuse.gvfsd-fuse", "fuse.juicefs",
})


def read_mounts() -> str:
    """The live ``/proc/mounts`` table (empty when unreadable: not Linux)."""
    try:
        return Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _unescape_mount(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"),
                       ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_of(path: str | Path, mounts_text: str | None = None) -> tuple[str, str, str] | None:
    r"""(device, mount point, filesystem type) of the mount holding ``path`` (Linux).

    ``mounts_text`` is a ``/proc/mounts`` table (default: the live one); None when it is
    empty or unreadable (not Linux).

    Examples
    --------
    >>> table = "/dev/sda1 / ext4 rw 0 0\nsrv:/lab /mnt/lab nfs4 rw 0 0\n"
    >>> mount_of("/mnt/lab/study/allocation.sqlite", table)
    ('srv:/lab', '/mnt/lab', 'nfs4')
    >>> mount_of("/mnt/labX/a.sqlite", table)[2]
    'ext4'
    """
    text = read_mounts() if mounts_text is None else mounts_text
    target = Path(path).expanduser().resolve().as_posix()
    best: tuple[str, str, str] | None = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        device, mountpoint, fstype = _unescape_mount(parts[0]), _unescape_mount(parts[1]), parts[2]
        inside = (target == mountpoint or mountpoint == "/"
                  or target.startswith(mountpoint.rstrip("/") + "/"))
        if inside and (best is None or len(mountpoint) >= len(best[1])):
            best = (device, mountpoint, fstype)  # the last, longest match is the visible one
    return best


def network_filesystem(path: str | Path, mounts_text: str | None = None) -> str | None:
    r"""A description of the network filesystem holding ``path``, or None when it is local.

    Linux: the mount's type in ``/proc/mounts`` (NFS, SMB/CIFS, sshfs and other network
    FUSE file systems). Windows: a UNC path (``\\server\share``) or a mapped network
    drive. Elsewhere (macOS) nothing is detected.

    Examples
    --------
    >>> table = "/dev/sda1 / ext4 rw 0 0\nuser@pc2:/data /mnt/pc2 fuse.sshfs rw 0 0\n"
    >>> network_filesystem("/mnt/pc2/allocation.sqlite", table)
    'fuse.sshfs (user@pc2:/data mounted on /mnt/pc2)'
    >>> network_filesystem("/home/lab/allocation.sqlite", table) is None
    True
    """
    if sys.platform == "win32" and mounts_text is None:  # pragma: no cover - Windows only
        text = str(Path(path).expanduser().resolve())
        if text.startswith("\\\\"):
            return "a network share (UNC path)"
        try:
            # lazy: ctypes.windll exists only on Windows
            import ctypes

            drive = Path(text).drive + "\\"
            if ctypes.windll.kernel32.GetDriveTypeW(drive) == 4:  # DRIVE_REMOTE
                return f"a mapped network drive ({drive})"
        except (AttributeError, OSError):
            pass
        return None
    found = mount_of(path, mounts_text)
    if found is None:
        return None
    device, mountpoint, fstype = found
    network = fstype in NETWORK_FS_TYPES or (
        fstype == "fuse" and ":" in device  # old sshfs: type 'fuse', device 'user@host:/dir'
    )
    return f"{fstype} ({device} mounted on {mountpoint})" if network else None


def check_local_disk(path: str | Path, mounts_text: str | None = None) -> None:
    r"""Refuse an allocation database on a network filesystem.

    Raises
    ------
    AllocationError
        Naming the file and the filesystem, and what to do instead.

    Examples
    --------
    >>> check_local_disk("/tmp/allocation.sqlite", "tmpfs /tmp tmpfs rw 0 0\n")
    """
    where = network_filesystem(path, mounts_text)
    if where is None:
        return
    raise AllocationError(
        f"{path}: the allocation database is on a network filesystem, {where}. SQLite's WAL "
        "mode needs every process that uses the file on one machine, with the file on that "
        "machine's local disk; over a network share two PCs can allocate the same slot or "
        "corrupt the file. Keep the database on one PC's local disk; for two or more PCs use a "
        "PostgreSQL server, --db postgresql://USER@HOST/DATABASE (see "
        "docs/running-a-session.md, 'Two lab PCs or several sites')."
    )
