"""Backups: verified, self-describing archives of the panel's data, and safe restores.

Qt-free: the CLI, the panel's Backups page and the supervisor's schedule all use
:class:`elite_panel.backup.service.BackupService`.
"""
