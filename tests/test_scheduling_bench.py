"""`make bench`'s scheduling part keeps working (its figures are read by people, not asserted)."""

from __future__ import annotations

import subprocess
import sys

from scripts.mesh import ROOT


def test_the_scheduling_benchmark_runs_and_reports() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scheduling",
            "--providers",
            "2",
            "--days",
            "2",
            "--runs",
            "2",
            "--bookings",
            "20",
            "--booking-providers",
            "2",
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for line in (
        "engine alone",
        "in-process",
        "through the gateway",
        "bookings/s",
        "double bookings in the database: 0",
    ):
        assert line in result.stdout, result.stdout
