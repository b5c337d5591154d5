"""Off-site backup to an S3 server: ``backup create --to`` (upload, then read back and
compared) against a plain multipart upload of the same archive with boto3's
``upload_file``, and the restore from the bucket (download, verify, safety backup, swap).

Run: ``python -m tests.benchmarks.bench_offsite``. The S3 server is moto's (a test double:
an emulator in one Python process, the only S3 server that runs here); its speed is part of
both sides. The database: ``BENCH_DB_MB`` (default 1024) of conversations in the server's
own SQLite schema (``bench_backup``'s data). Medians of ``BENCH_ROUNDS`` (default 3), ours
and the baseline interleaved; each object is deleted after its round (moto keeps them in
memory).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3

from elite_panel.core.paths import AppPaths
from embedded_server.backups.offsite import Bucket
from embedded_server.backups.server import ServerBackups
from tests.benchmarks import bench_backup, save_results
from tests.fakes.s3_double import CREDENTIALS, s3_double

DB_MB = int(os.environ.get("BENCH_DB_MB", "1024"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="elite-bench-offsite-"))
    os.environ.update(CREDENTIALS, AWS_SECRET_ACCESS_KEY="x")
    try:
        paths = AppPaths.from_env({"ELITE_HOME": str(root)}).ensure()
        bench_backup.DB_MB, bench_backup.LOGS_MB = DB_MB, 0
        bench_backup.make_data(paths)
        database = paths.server_data / "assistant.db"
        backups = ServerBackups(f"sqlite:///{database}", root / "backups")
        start = time.perf_counter()
        made = backups.create()
        archive_s = time.perf_counter() - start
        with s3_double("bench") as endpoint:
            os.environ["AWS_ENDPOINT_URL"] = endpoint
            client = boto3.client("s3")
            bucket = Bucket("s3://bench/ours", client=client)
            ours, plain, restore = [], [], []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                bucket.upload(made.path)
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                client.upload_file(str(made.path), "bench", f"plain/{made.name}")
                plain.append(time.perf_counter() - start)
                client.delete_object(Bucket="bench", Key=f"plain/{made.name}")
                fetched_to = root / "fetched"
                fetched_to.mkdir()
                start = time.perf_counter()
                fetched = bucket.download(made.name, fetched_to)
                backups.restore(fetched)
                restore.append(time.perf_counter() - start)
                client.delete_object(Bucket="bench", Key=f"ours/{made.name}")
                shutil.rmtree(fetched_to)
                for safety in backups.archives.backups():  # the restore's safety backups
                    if safety.path != made.path:
                        backups.archives.delete(safety.path)
        results = {
            "cpus": os.cpu_count(),
            "database_mb": round(database.stat().st_size / 1e6, 1),
            "archive_mb": round(made.size / 1e6, 1),
            "archive_s": archive_s,
            "upload_and_read_back_s": statistics.median(ours),
            "upload_file_s": statistics.median(plain),
            "ratio": statistics.median(ours) / statistics.median(plain),
            "restore_from_bucket_s": statistics.median(restore),
        }
        save_results("offsite", results)
        out = sys.stdout.write
        out(
            f"machine: {os.cpu_count()} CPUs; database {results['database_mb']:.0f} MB, archive "
            f"{results['archive_mb']:.0f} MB (made in {archive_s:.1f} s); medians of {ROUNDS}\n"
        )
        out(f"upload + read back: {results['upload_and_read_back_s']:.2f} s\n")
        out(f"boto3 upload_file:  {results['upload_file_s']:.2f} s\n")
        out(f"ratio: {results['ratio']:.2f}x (aim <= 1.2x)\n")
        out(
            "restore from the bucket (download, verify, safety backup, swap): "
            f"{results['restore_from_bucket_s']:.2f} s\n"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
