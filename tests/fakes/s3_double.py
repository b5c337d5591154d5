"""Test double of an S3 server: moto's server mode (``moto_server``, from PyPI), an
emulator of AWS's S3 API in one process.

No S3-compatible server is packaged for Debian here (MinIO, Ceph and Garage are not), so
the off-site backups are tested against this emulator: boto3 speaks to it exactly as to
AWS (multipart uploads, listing pages, ranged reads), but its storage is in memory and it
checks no signature or key.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import answers, wait_for
from tests.fakes.ollama_double import free_port

# What the double accepts (any key does); given to the processes under test.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEDOUBLE",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_double(*buckets: str) -> Iterator[str]:
    """moto's S3 server on loopback, with ``buckets`` made; yields its endpoint URL."""
    binary = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(url), 30, "the S3 double (moto_server)")
        for bucket in buckets:
            httpx.put(f"{url}/{bucket}", timeout=10).raise_for_status()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
