"""``elite-panel doctor [--json] [--bundle FILE]``: what is wrong, one check a line, each
failure with what to do (the exit status says whether all passed), and a support bundle
to attach to a bug report, with every secret removed (the checks and the bundle:
:mod:`elite_panel.diagnose`)."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from elite_panel.cli.console import out
from elite_panel.core.paths import AppPaths
from elite_panel.diagnose.bundle import write_bundle
from elite_panel.diagnose.checks import diagnose


def add_parsers(commands: Any) -> None:
    doctor = commands.add_parser("doctor", help="check what the panel needs, and say what to do")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument(
        "--bundle",
        type=Path,
        metavar="FILE",
        help="also write a support bundle (a zip: versions, this report, the newest logs, "
        "the profile, GPU facts; every secret removed)",
    )


def run_doctor(args: argparse.Namespace, paths: AppPaths, profile_name: str) -> int:
    checks = asyncio.run(diagnose(paths, profile_name))
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        out(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2) + "\n")
    else:
        for c in checks:
            advice = f" — {c.advice}" if c.advice else ""
            out(f"{c.status:<4}  {c.name:<18} {c.detail}{advice}\n")
    if args.bundle:
        written = write_bundle(args.bundle, paths, profile_name, checks)
        out(f"support bundle: {written} (no secret in it: check it before you share it)\n")
    return 1 if failed else 0
