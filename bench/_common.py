"""Helpers shared by the benches: the repository on sys.path, phases in child processes, peak memory.

A bench measures each workload in a fresh child process (``run_phase``), so that the peak resident
memory it reports is the workload's own, not that of the data generation or of another workload run
before it in the same interpreter. The child prints one JSON object as its last line of output.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first, not the repository
    sys.path.insert(0, str(ROOT))


def memory_mb() -> dict[str, float]:
    """This process's memory in MiB: current (VmRSS) and peak (VmHWM, ru_maxrss) resident sizes."""
    found: dict[str, float] = {"ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) / 1024
    except OSError:  # not Linux: ru_maxrss only
        pass
    return found


def cpu_s(pid: int | None = None) -> float | None:
    """CPU seconds (user + system) used so far by this process, or by `pid` (Linux only, else None)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mb(memory: dict[str, float]) -> float:
    return max(memory.get("VmHWM", 0.0), memory["ru_maxrss"])


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """``with timed() as t: ...`` then ``t["s"]`` holds the elapsed wall time in seconds."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["s"] = time.perf_counter() - start


def emit(result: dict[str, Any]) -> None:
    """The child's answer to `run_phase`: one JSON line, last on stdout."""
    print(json.dumps(result), flush=True)


def run_phase(script: Path, *args: str) -> dict[str, Any]:
    """Run ``python script *args`` in a child process and return the JSON object it `emit`-ted.

    Raises RuntimeError with the child's output when it fails or prints no JSON.
    """
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{script.name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer
