"""Off-site copies of backup archives in an S3 bucket (``s3://BUCKET/PREFIX``): uploaded,
verified by reading the object back, listed, fetched for a restore, pruned by the same
retention as the folder. Blocking: callers run it in a thread.

Credentials and the endpoint come from boto3's usual places, never from a setting of
ours: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_SHARED_CREDENTIALS_FILE``
(a Docker or Kubernetes secret), an instance's or a pod's role; ``AWS_ENDPOINT_URL`` for an
S3-compatible server (MinIO, Ceph). No message of ours carries a credential: boto3's own
errors name the bucket and the operation, not the keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from embedded_server.backups import BackupFailed, retention
from embedded_server.backups.archive import Progress
from embedded_server.backups.folder import created_from_name, is_archive_name
from embedded_server.config import BUCKET_URL, check_bucket_url

__all__ = ["Bucket", "RemoteBackup", "check_bucket_url"]

log = logging.getLogger(__name__)

CHUNK = 8 << 20  # read back and compared 8 MiB at a time


@dataclass(frozen=True)
class RemoteBackup:
    """One archive in the bucket."""

    name: str
    created: datetime
    size: int


class Bucket:
    """The archives under one ``s3://BUCKET/PREFIX``."""

    def __init__(self, url: str, client: Any = None) -> None:
        """``client``: a boto3 S3 client (default: one made from the environment)."""
        found = BUCKET_URL.fullmatch(check_bucket_url(url))
        assert found is not None
        self.url = url.rstrip("/")
        self.bucket = found["bucket"]
        prefix = (found["prefix"] or "").strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise BackupFailed(
                    "off-site backups need boto3: pip install 'elite-assistant-server[s3]'"
                ) from None
            self._client = boto3.client("s3")
        return self._client

    def upload(self, archive: Path, progress: Progress | None = None) -> str:
        """Upload ``archive`` (multipart, as boto3 does), then read it back and compare it
        with the file byte for byte; a copy that differs is deleted and BackupFailed raised.
        Returns its ``s3://`` URL."""
        key = self.prefix + archive.name
        total, sent = archive.stat().st_size, [0]

        def uploaded(count: int) -> None:  # boto3 says how many more bytes went
            sent[0] += count
            if progress:
                progress(sent[0], total)

        with self._said(f"uploading {archive.name}"):
            self.client.upload_file(str(archive), self.bucket, key, Callback=uploaded)
            if not self._same(archive, key):
                self.client.delete_object(Bucket=self.bucket, Key=key)
                raise BackupFailed(
                    f"{self.url}/{archive.name} read back differs from {archive}: deleted "
                    "(the local archive is intact)"
                )
        log.info("backup uploaded and read back: %s/%s", self.url, archive.name)
        return f"{self.url}/{archive.name}"

    def _same(self, archive: Path, key: str) -> bool:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        with archive.open("rb") as local:
            for chunk in body.iter_chunks(CHUNK):
                if local.read(len(chunk)) != chunk:
                    return False
            return local.read(1) == b""

    def backups(self) -> list[RemoteBackup]:
        """The archives in the bucket, newest first."""
        found: list[RemoteBackup] = []
        with self._said("listing"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"].removeprefix(self.prefix)
                    if not is_archive_name(name):
                        continue
                    created = created_from_name(name) or item["LastModified"]
                    found.append(RemoteBackup(name, created, item["Size"]))
        return sorted(found, key=lambda b: b.name, reverse=True)

    def download(self, name: str, folder: Path) -> Path:
        """Fetch archive ``name`` into ``folder``, made if missing (written whole or not at
        all)."""
        if not is_archive_name(name):
            raise BackupFailed(f"{name} is not a backup archive's name")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        partial = folder / f".{name}.partial"
        with self._said(f"downloading {name}"):
            try:
                self.client.download_file(self.bucket, self.prefix + name, str(partial))
                partial.chmod(0o600)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        return target

    def prune(self, keep_last: int, keep_daily: int) -> list[str]:
        """Delete what the retention policy does not keep; returns the names that went."""
        backups = self.backups()
        doomed = retention.to_forget([b.created for b in backups], keep_last, keep_daily)
        names = [backups[i].name for i in sorted(doomed)]
        with self._said("pruning"):
            for name in names:
                self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)
        return names

    @contextmanager
    def _said(self, doing: str) -> Iterator[None]:
        """boto3's failures as BackupFailed: what was being done, where, and why."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error: dict[str, Any] = exc.response.get("Error", {})
            raise BackupFailed(
                f"{self.url}: {doing} failed: {error.get('Code', '?')} "
                f"({error.get('Message', '') or exc.operation_name})"
            ) from exc
        except BotoCoreError as exc:  # no credentials, no connection, a bad endpoint
            raise BackupFailed(f"{self.url}: {doing} failed: {exc}") from exc
