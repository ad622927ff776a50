"""Run the suite as a user would (``pytest`` in the project, in a child process) and read its
reports, so self-tests judge what a user sees: exit status, terminal text, Cucumber JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SuiteRun:
    exit_code: int
    output: str
    reports: Path

    @property
    def cucumber(self) -> list[dict[str, Any]]:
        return json.loads((self.reports / "cucumber.json").read_text())  # type: ignore[no-any-return]

    def scenarios(self) -> dict[str, str]:
        """Scenario name -> passed / failed / skipped, from the Cucumber report."""
        results: dict[str, str] = {}
        for feature in self.cucumber:
            for element in feature["elements"]:
                statuses = {step["result"]["status"] for step in element["steps"]}
                status = (
                    "failed"
                    if "failed" in statuses
                    else ("skipped" if "skipped" in statuses else "passed")
                )
                results[element["name"]] = status
        return results

    def failed(self) -> set[str]:
        return {name for name, status in self.scenarios().items() if status == "failed"}

    def error_messages(self) -> dict[str, str]:
        """Scenario name -> the failing step's error message."""
        messages: dict[str, str] = {}
        for feature in self.cucumber:
            for element in feature["elements"]:
                for step in element["steps"]:
                    if "error_message" in step["result"]:
                        messages[element["name"]] = step["result"]["error_message"]
        return messages


def run_suite(
    *args: str,
    reports: Path,
    env: dict[str, str] | None = None,
    cwd: Path = PROJECT,
    timeout: float = 300,
) -> SuiteRun:
    """``pytest ARGS`` in the project, reports written under ``reports``."""
    reports.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        f"--cucumberjson={reports / 'cucumber.json'}",
        f"--junitxml={reports / 'junit.xml'}",
        f"--html={reports / 'report.html'}",
        *args,
    ]
    environment = {**os.environ, **(env or {})}
    environment.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return SuiteRun(done.returncode, done.stdout + done.stderr, reports)
