"""`make bench` keeps working (its figures are read by people, not asserted here)."""

from __future__ import annotations

import subprocess
import sys

from scripts.mesh import ROOT


def test_the_gateway_benchmark_runs_and_reports_every_path() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gateway",
            "--requests",
            "20",
            "--concurrency",
            "2",
            "--seconds",
            "0.5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ("A  gateway", "B  identity over gRPC", "C  one FastAPI process", "gateway adds"):
        assert line in result.stdout, result.stdout


def test_the_hot_read_benchmark_runs_and_reports_every_way() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.reads", "--calls", "40", "--callers", "4", "--rounds", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for way in ("db.reader()", "db.fast_reader()", "asyncpg Pool"):
        assert way in result.stdout, result.stdout
