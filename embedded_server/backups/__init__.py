"""Verified backup archives, shared by the server (``elite-assistant-server backup``) and
the desktop panel: the archive format, database snapshots, the backups folder, retention."""


class BackupFailed(Exception):
    """A backup, verification or restore that could not be done; the message says why."""
