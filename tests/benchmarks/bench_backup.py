"""Backup speed and size against what the deployment guide's scripts do (``tar czf``).

Run: ``python -m tests.benchmarks.bench_backup`` (also in ``bootstrap.sh bench``).
The data set: a SQLite database of conversations (``BENCH_DB_MB``, default 200 MB of
Markdown-and-code text in the server's own schema) and log files (``BENCH_LOGS_MB``, 100 MB
of supervisor-like lines). Each figure is the median of ``BENCH_ROUNDS`` (default 3) runs,
ours and the baseline interleaved. Verify and restore speeds are in MB of data per second.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elite_panel.backup.restore import Restorer
from elite_panel.backup.service import BackupService
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from tests.benchmarks import save_results

DB_MB = int(os.environ.get("BENCH_DB_MB", "200"))
LOGS_MB = int(os.environ.get("BENCH_LOGS_MB", "100"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORDS = [
    "the",
    "function",
    "returns",
    "a",
    "list",
    "of",
    "values",
    "def",
    "class",
    "import",
    "async",
    "await",
    "self",
    "return",
    "if",
    "else",
    "for",
    "while",
    "try",
    "except",
    "raise",
    "with",
    "yield",
    "lambda",
    "print",
    "json",
    "http",
    "request",
    "response",
    "model",
    "token",
    "stream",
    "error",
    "file",
    "path",
    "config",
    "server",
    "client",
    "database",
    "query",
    "index",
    "table",
    "```python",
    "```",
    "**note**",
    "-",
    "item",
    "1.",
    "step",
    "`code`",
    "->",
    "=>",
    "==",
    "!=",
    "<=",
    ">=",
    "{}",
    "[]",
    "()",
    ":",
    ";",
    ",",
    ".",
]


def text(rng: random.Random, words: int) -> str:
    lines, line = [], []
    for _ in range(words):
        line.append(rng.choice(WORDS))
        if len(line) > rng.randint(6, 14):
            lines.append(("    " if rng.random() < 0.3 else "") + " ".join(line))
            line = []
    return "\n".join(lines)


def make_data(paths: AppPaths) -> int:
    """The server's database (its migrations, then rows) and the logs; returns bytes."""
    from embedded_server.db.engine import Database
    from embedded_server.db.migrate import upgrade

    paths.server_data.mkdir(parents=True, exist_ok=True)
    db = paths.server_data / "assistant.db"
    asyncio.run(upgrade(Database(f"sqlite:///{db}")))
    rng = random.Random(7)
    with sqlite3.connect(db) as connection:
        n = 0
        while db.stat().st_size < DB_MB * 1024 * 1024:
            rows = []
            for _ in range(200):
                n += 1
                cid = f"{n:032x}"
                connection.execute(
                    "INSERT INTO conversations (id, title, pinned, created_at, updated_at) "
                    "VALUES (?, ?, 0, '2026-11-26', '2026-11-26')",
                    (cid, text(rng, 8)),
                )
                for turn in range(4):
                    role = "user" if turn % 2 == 0 else "assistant"
                    rows.append((f"{n:030x}{turn:02x}", cid, role, text(rng, 250)))
            connection.executemany(
                "INSERT INTO messages (public_id, conversation_id, role, content, status, "
                "created_at) VALUES (?, ?, ?, ?, 'complete', '2026-11-26')",
                rows,
            )
            connection.commit()
    paths.logs.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        with (paths.logs / f"supervisor.log.{i}").open("w") as fh:
            size = 0
            while size < LOGS_MB * 1024 * 1024 // 4:
                line = (
                    f"2026-11-26 01:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d},"
                    f"{rng.randint(0, 999):03d} INFO elite_panel.stack.service: "
                    f"{rng.choice(['runner', 'assistant'])} {text(rng, 12)}\n"
                )
                size += fh.write(line)
    return db.stat().st_size + sum(p.stat().st_size for p in paths.logs.iterdir())


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="elite-bench-backup-"))
    try:
        paths = AppPaths.from_env({"ELITE_HOME": str(root)}).ensure()
        data_bytes = make_data(paths)
        service = BackupService(paths, Profile(), {})
        files = [paths.server_data / "assistant.db", *sorted(paths.logs.iterdir())]
        ours, theirs, ours_size, theirs_size, verify, restore = [], [], 0, 0, [], []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            info = service.create(include_logs=True, to=root / "ours", prune=False)
            ours.append(time.perf_counter() - start)
            ours_size = info.size
            start = time.perf_counter()
            baseline = root / "baseline.tar.gz"
            subprocess.run(
                ["tar", "czf", str(baseline), *(str(f.relative_to(root)) for f in files)],
                cwd=root,
                check=True,
            )
            theirs.append(time.perf_counter() - start)
            theirs_size = baseline.stat().st_size
            start = time.perf_counter()
            service.verify(info.path)
            verify.append(time.perf_counter() - start)
            restorer = Restorer(service)
            start = time.perf_counter()
            plan = restorer.plan(info.path)
            restorer.apply(plan, lambda names: [], lambda names: None)
            restore.append(time.perf_counter() - start)
            shutil.rmtree(root / "ours")
            shutil.rmtree(service.folder, ignore_errors=True)  # the safety backups
        mb = data_bytes / 1e6
        results = {
            "cpus": os.cpu_count(),
            "data_mb": round(mb, 1),
            "ours_s": statistics.median(ours),
            "tar_czf_s": statistics.median(theirs),
            "speedup": statistics.median(theirs) / statistics.median(ours),
            "ours_mb": ours_size / 1e6,
            "tar_czf_mb": theirs_size / 1e6,
            "verify_mb_per_s": mb / statistics.median(verify),
            "restore_mb_per_s": mb / statistics.median(restore),
        }
        save_results("backup", results)
        out = sys.stdout.write
        out(
            f"machine: {os.cpu_count()} CPUs; data: {mb:.0f} MB (database + logs); "
            f"medians of {ROUNDS} rounds\n"
        )
        out(f"backup create:  {results['ours_s']:.2f} s, archive {results['ours_mb']:.1f} MB\n")
        out(
            f"tar czf:        {results['tar_czf_s']:.2f} s, archive "
            f"{results['tar_czf_mb']:.1f} MB\n"
        )
        out(
            f"speed-up: {results['speedup']:.1f}x (aim >= 3x); size ratio "
            f"{results['ours_mb'] / results['tar_czf_mb']:.2f} (aim <= 1)\n"
        )
        out(
            f"verify: {results['verify_mb_per_s']:.0f} MB/s; restore (verify, stage, safety "
            f"backup, swap, check): {results['restore_mb_per_s']:.0f} MB/s\n"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
