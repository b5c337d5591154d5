"""Off-site backups: ``backup create --to s3://…`` (or ``ASSISTANT_BACKUP_TO``), ``list
--from``, ``restore --from``, ``prune`` on the bucket, against moto's S3 server (a test
double: no S3-compatible server is packaged here). The keys come from a credentials file,
as Compose's and Kubernetes' secrets give them, and appear in no output."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from embedded_server.backups import BackupFailed
from embedded_server.backups.offsite import Bucket
from tests.fakes.s3_double import CREDENTIALS, s3_double
from tests.server.conftest import run_server
from tests.server.test_server_backup import add_conversation, conversations, delete_conversation

SECRET_KEY = "s3cr3t-0ffsite-key-never-printed"


@pytest.fixture
def s3() -> Any:
    with s3_double("team-backups") as url:
        yield url


def credentials_file(tmp_path: Path) -> Path:
    path = tmp_path / "aws_credentials"
    path.write_text(
        f"[default]\naws_access_key_id = {CREDENTIALS['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {SECRET_KEY}\n"
    )
    return path


def test_create_to_a_bucket_list_restore_from_it_and_prune_there(tmp_path: Path, s3: str) -> None:
    database_url = f"sqlite:///{tmp_path / 'assistant.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")} | {
        "ASSISTANT_DATABASE_URL": database_url,
        "ASSISTANT_BACKUP_DIR": str(tmp_path / "backups"),
        "ASSISTANT_BACKUP_TO": "s3://team-backups/nightly",  # the nightly job's setting
        "AWS_ENDPOINT_URL": s3,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file(tmp_path)),
    }
    printed: list[str] = []

    def server(*args: str) -> tuple[int, str]:
        done = run_server(env, "backup", *args)
        printed.append(done.stdout + done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout + done.stderr

    kept = add_conversation(database_url, "refactor the parser")
    code, out = server("create")
    assert code == 0, out
    archive = Path(out.split()[0])
    assert f"read back: s3://team-backups/nightly/{archive.name}" in out
    stored = boto3.client("s3", endpoint_url=s3, aws_secret_access_key="x", **lower(CREDENTIALS))
    body = stored.get_object(Bucket="team-backups", Key=f"nightly/{archive.name}")["Body"]
    assert body.read() == archive.read_bytes()

    code, out = server("list", "--from", "s3://team-backups/nightly")
    assert code == 0 and out.split()[0] == archive.name

    # Disaster: this machine's archives are gone and the database has changed.
    shutil.rmtree(archive.parent)  # (the folder too: fetching makes it again)
    delete_conversation(database_url, kept)
    add_conversation(database_url, "made after the backup")
    code, out = server("restore", archive.name, "--from", "s3://team-backups/nightly")
    assert code == 1 and "is intact" in out and "--yes" in out  # fetched, verified, not yet
    assert conversations(database_url) == ["made after the backup"]
    code, out = server("restore", archive.name, "--from", "s3://team-backups/nightly", "--yes")
    assert code == 0, out
    assert conversations(database_url) == ["refactor the parser"]

    server("create")  # retention on the bucket too: the newest one is all it keeps
    code, out = server("prune", "--keep-last", "1", "--keep-daily", "0")
    assert code == 0 and "removed s3://team-backups/nightly/" in out
    code, out = server("list", "--from", "s3://team-backups/nightly")
    assert len(out.splitlines()) == 1

    code, out = server("list", "--from", "s3://no-such-bucket")
    assert code == 1 and "NoSuchBucket" in out
    code, out = server("create", "--to", "s3://Not_A_Bucket")
    assert code == 1 and "is not s3://BUCKET/PREFIX" in out
    assert not any(SECRET_KEY in text for text in printed)


def lower(values: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": values["AWS_ACCESS_KEY_ID"],
        "region_name": values["AWS_DEFAULT_REGION"],
    }


def test_a_copy_that_reads_back_different_is_deleted_and_refused(tmp_path: Path, s3: str) -> None:
    client = boto3.client("s3", endpoint_url=s3, aws_secret_access_key="x", **lower(CREDENTIALS))
    archive = tmp_path / "elite-backup-20261206-120000.tar.zst"
    archive.write_bytes(os.urandom(3 << 20))
    real_get = client.get_object

    def damaged_in_transit(**kwargs: Any) -> Any:
        answer = real_get(**kwargs)
        data = bytearray(answer["Body"].read())
        data[len(data) // 2] ^= 0xFF
        import io

        from botocore.response import StreamingBody

        answer["Body"] = StreamingBody(io.BytesIO(bytes(data)), len(data))
        return answer

    client.get_object = damaged_in_transit
    bucket = Bucket("s3://team-backups", client=client)
    with pytest.raises(BackupFailed, match="read back differs"):
        bucket.upload(archive)
    assert bucket.backups() == []  # the bad copy was deleted
    client.get_object = real_get
    assert bucket.upload(archive) == f"s3://team-backups/{archive.name}"
    assert [b.name for b in bucket.backups()] == [archive.name]
