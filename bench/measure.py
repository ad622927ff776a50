"""Run one child process and measure it: wall time, CPU time, peak memory.

CPU and memory come from the kernel's accounting of that very child (``os.wait4``): user +
system time of the process and of every descendant it waited for, and its peak resident set
(``ru_maxrss``, KiB on Linux). Servers started by the benchmark itself (nginx, the latency
proxy, the reference DLB of the curl baseline) are not children being measured, so their
CPU time is not in these figures.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One measured thing: a process, or a loop of processes added up."""

    wall: float  # seconds
    cpu: float  # seconds, user + system
    maxrss_kib: int  # the largest peak RSS among the processes
    returncode: int = 0
    output: str = ""

    @property
    def maxrss_mib(self) -> float:
        return self.maxrss_kib / 1024


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    stdin_devnull: bool = True,
) -> Sample:
    """Run ``argv`` to the end (killed after ``timeout`` s) and measure it."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if stdin_devnull else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        watchdog = threading.Timer(timeout, _kill_group, (process.pid,))
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_kib=usage.ru_maxrss,
        returncode=process.returncode,
        output=text,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def median_sample(samples: Sequence[Sample]) -> Sample:
    """Each figure's median over the runs (so the figures may come from different runs)."""
    return Sample(
        wall=statistics.median(s.wall for s in samples),
        cpu=statistics.median(s.cpu for s in samples),
        maxrss_kib=int(statistics.median(s.maxrss_kib for s in samples)),
        returncode=max((s.returncode for s in samples), key=abs),
    )


def spread(values: Sequence[float]) -> str:
    """min-max, for the reader to judge the noise around a median."""
    return f"{min(values):.2f}-{max(values):.2f}"


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def env_without_pytest_addopts() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("PYTEST_ADDOPTS", None)
    return environment
