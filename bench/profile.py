"""`make bench` with `--profile`: where each server process spends its CPU under load.

py-spy (a dev tool: requirements-dev.txt) samples a running process from outside, so the code
runs unmodified and at nearly full speed; it needs ptrace (root, or kernel.yama.ptrace_scope=0).
Only samples of a busy thread count (py-spy leaves idle ones out), so the shares are shares of
the process's CPU. Frames are Python functions: time inside a C or Cython extension (gRPC's
core, asyncpg's protocol, protobuf's upb) counts as the Python function that called it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 250  # samples per second per process
ROOT = os.getcwd() + "/"  # the bench runs from the repository's root
LINE = re.compile(r" \(([^()]*?)(?::\d+)?\)$")  # "func (path/file.py:123)" → file without line


def py_spy() -> str | None:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    return found


@dataclass
class Profile:
    """Collapsed stacks of one process: frame strings, root first, with sample counts."""

    role: str
    stacks: Counter[tuple[str, ...]]

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    def self_costs(self) -> Counter[str]:
        """Samples whose innermost frame is this function."""
        costs: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            costs[stack[-1]] += count
        return costs

    def total_costs(self) -> Counter[str]:
        """Samples with this function anywhere on the stack (each stack counted once)."""
        costs: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            for frame in set(stack):
                costs[frame] += count
        return costs

    def area_costs(self) -> Counter[str]:
        """Self samples by package (grpc, sqlalchemy, starlette, our gateway…)."""
        costs: Counter[str] = Counter()
        for frame, count in self.self_costs().items():
            costs[area(frame)] += count
        return costs


def area(frame: str) -> str:
    match = LINE.search(frame)
    path = match.group(1) if match else frame
    path = path.split("site-packages/")[-1]
    parts = path.split("/")
    if parts[0] in ("gateway", "services", "bench") and len(parts) > 1:
        return "/".join(parts[:2]).removesuffix(".py")
    if len(parts) == 1:
        return parts[0].removesuffix(".py")  # the standard library's top-level modules
    return parts[0]


def short(frame: str) -> str:
    """`func (…/site-packages/pkg/mod.py:12)` → `func (pkg/mod.py)`."""
    match = LINE.search(frame)
    if not match:
        return frame
    path = match.group(1).split("site-packages/")[-1].split("/lib/python3.11/")[-1]
    path = path.removeprefix(ROOT)
    return f"{frame[: match.start()]} ({path})"


def parse_raw(role: str, text: str) -> Profile:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        stacks[tuple(short(f) for f in frames.split(";"))] += int(count)
    return Profile(role, stacks)


async def record(
    pids: dict[str, int],
    seconds: float,
    load: Callable[[], Awaitable[object]],
    keep: Path | None = None,
    label: str = "",
) -> list[Profile]:
    """Samples every process in `pids` while `load` runs (py-spy attaches first). With `keep`,
    the collapsed stacks stay there (`<label>-<role>.txt`, for flamegraph.pl or speedscope)."""
    tool = py_spy()
    if tool is None:
        raise RuntimeError(
            "py-spy is not installed: `.venv/bin/pip install -r requirements-dev.txt`"
        )
    workdir = Path(tempfile.mkdtemp(prefix="plixa-profile-"))
    try:
        recorders = {}
        for role, pid in pids.items():
            output = workdir / f"{role}.txt"
            recorders[role] = await asyncio.create_subprocess_exec(
                tool,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                str(SAMPLE_RATE),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(output),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        await asyncio.sleep(0.3)  # let py-spy attach before the load starts
        await load()
        profiles = []
        for role, recorder in recorders.items():
            _, stderr = await recorder.communicate()
            output = workdir / f"{role}.txt"
            if recorder.returncode != 0 or not output.exists():
                raise RuntimeError(f"py-spy failed on {role}: {stderr.decode()[-500:]}")
            profiles.append(parse_raw(role, output.read_text()))
            if keep is not None:
                _keep(output, keep / f"{label}{'-' if label else ''}{role}.txt")
        return profiles
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _keep(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)


def report(label: str, profiles: list[Profile], top: int) -> None:
    for profile in profiles:
        samples = profile.samples
        print(f"\n{label}: {profile.role}, {samples} samples of busy CPU")
        if not samples:
            continue
        print("  by package (self):")
        for name, count in profile.area_costs().most_common(top):
            print(f"    {count / samples:6.1%}  {name}")
        print("  functions, self (the time inside the function itself):")
        for name, count in profile.self_costs().most_common(top):
            print(f"    {count / samples:6.1%}  {name}")
        print("  functions, total (including what they call), ours only:")
        ours = [
            (name, count)
            for name, count in profile.total_costs().most_common()
            if area(name).startswith(("gateway", "services", "bench"))
        ]
        for name, count in ours[:top]:
            print(f"    {count / samples:6.1%}  {name}")
