"""Where a cold ``pytest`` against the embedded reference DLB spends its time.

Two measurements:
- phases: plain cold runs with bench/phase_timer.py loaded (``-p phase_timer``), which notes
  wall-clock marks at pytest's hooks and around kit loading and every probe;
- imports: one ``python -X importtime -m pytest --collect-only -q -s`` (``-s``: with pytest's
  output capture on, the import lines written while conftest.py loads would be swallowed),
  self time summed per top-level package. ``-X importtime`` itself slows imports down, so
  those figures are larger than the import phases of the plain runs; their shares are what
  to read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from measure import run_measured, temp_dir

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent

# Packages reported under the one that pulls them in.
PACKAGE_GROUPS = {
    "requests": "requests",
    "urllib3": "requests",
    "charset_normalizer": "requests",
    "idna": "requests",
    "certifi": "requests",
    "socks": "requests",  # urllib3's optional extras, probed at import
    "brotli": "requests",
    "brotlicffi": "requests",
    "zstandard": "requests",
    "backports": "requests",
    "cryptography": "cryptography",
    "_cffi_backend": "cryptography",
    "OpenSSL": "OpenSSL (pyOpenSSL)",
    "trustme": "trustme",
    "pytest_bdd": "pytest_bdd",
    "gherkin": "pytest_bdd",
    "mako": "pytest_bdd",
    "pygments": "pytest_bdd",
    "parse": "pytest_bdd",
    "parse_type": "pytest_bdd",
    "six": "pytest_bdd",
    "pytest_html": "pytest_html",
    "jinja2": "pytest_html",
    "markupsafe": "pytest_html",
    "pytest_metadata": "pytest_html",
    "pytest": "pytest",
    "_pytest": "pytest",
    "pluggy": "pytest",
    "iniconfig": "pytest",
    "packaging": "pytest",
    "mtls_conformance": "mtls_conformance (+ conftest, fixtures, steps)",
    "fixtures": "mtls_conformance (+ conftest, fixtures, steps)",
    "steps": "mtls_conformance (+ conftest, fixtures, steps)",
    "conftest": "mtls_conformance (+ conftest, fixtures, steps)",
    "pytest_mtls_conformance": "mtls_conformance (+ conftest, fixtures, steps)",
    "hypothesis": "hypothesis (not a dependency)",
    "_hypothesis_pytestplugin": "hypothesis (not a dependency)",
    "_hypothesis_globals": "hypothesis (not a dependency)",
    "sortedcontainers": "hypothesis (not a dependency)",
    "pytest_benchmark": "pytest_benchmark (not a dependency)",
    "cpuinfo": "pytest_benchmark (not a dependency)",
}
STARTUP = "python start-up (site, encodings, ...)"


def embedded_argv(reports: Path, *extra: str) -> list[str]:
    """A plain ``pytest`` run (reports written, to ``reports`` rather than the project's)."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        f"--cucumberjson={reports / 'cucumber.json'}",
        f"--junitxml={reports / 'junit.xml'}",
        f"--html={reports / 'report.html'}",
        *extra,
    ]


@dataclass(frozen=True)
class PhaseRun:
    phases: dict[str, float]
    first_probe: float  # seconds from spawn to the first probe's start
    probes: int
    probe_span: float  # first probe start to last probe end
    probe_sum: float
    total: float
    passed: str


PHASES = (
    ("interpreter start, import pytest", "spawn", "plugin_imported"),
    ("third-party pytest plugins load (entry points)", "plugin_imported", "conftest_start"),
    ("conftest.py: fixtures + steps and their imports", "conftest_start", "conftest_end"),
    ("configure (options, settings, markers)", "conftest_end", "configure_end"),
    ("collection (Gherkin -> scenarios)", "collection_start", "collection_end"),
)


def one_phase_run(env: dict[str, str], extra: Sequence[str] = ()) -> PhaseRun:
    reports = temp_dir("mtls-bench-reports-")
    marks_file = reports / "phases.json"
    environment = {
        **env,
        "MTLS_BENCH_PHASES": str(marks_file),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")])),
    }
    spawn = time.time()
    done = run_measured(
        embedded_argv(reports, "-p", "phase_timer", *extra), cwd=PROJECT, env=environment
    )
    ended = spawn + done.wall
    document = json.loads(marks_file.read_text())
    shutil.rmtree(reports, ignore_errors=True)
    marks: dict[str, float] = {"spawn": spawn, **document["marks"]}
    spans: dict[str, list[list[float]]] = document["spans"]

    def span_sum(kind: str) -> float:
        return sum(end - start for start, end in spans.get(kind, []))

    phases = {name: marks[end] - marks[start] for name, start, end in PHASES}
    kit = span_sum("kit_load")
    suites = span_sum("fixture:suites")
    planning = span_sum("fixture:_start_all_probes")
    phases["kit load (cached kit: parse + check every file)"] = kit
    phases["reference DLB start"] = suites - kit
    phases["plan + submit every probe"] = planning
    loop = marks["runtestloop_end"] - marks["runtestloop_start"]
    phases["scenarios (probes overlap; steps, verdicts)"] = loop - suites - planning
    summary = marks["terminal_summary_end"] - marks["terminal_summary_start"]
    phases["reports (cucumber.json, junit.xml, report.html)"] = (
        marks["sessionfinish_end"] - marks["sessionfinish_start"] - summary
    )
    phases["terminal summary hooks"] = summary
    phases["pytest teardown + interpreter exit"] = ended - marks["sessionfinish_end"]
    total = ended - spawn
    phases["other (between the phases above)"] = total - sum(phases.values())
    probes = spans.get("probe", []) + spans.get("handshake", [])
    first = min(start for start, _ in probes) if probes else ended
    last = max(end for _, end in probes) if probes else ended
    passed = re.search(r"(\d+ passed[^\n]*)", done.output)
    return PhaseRun(
        phases=phases,
        first_probe=first - spawn,
        probes=len(probes),
        probe_span=last - first,
        probe_sum=sum(end - start for start, end in probes),
        total=total,
        passed=passed.group(1) if passed else f"exit {done.returncode}: {done.output[-300:]}",
    )


def phase_table(runs: Sequence[PhaseRun]) -> list[tuple[str, float]]:
    names = list(runs[0].phases)
    return [(name, statistics.median(run.phases[name] for run in runs)) for name in names]


def import_summary(env: dict[str, str], extra: Sequence[str] = ()) -> list[tuple[str, float, int]]:
    """(group, self ms, modules) from one ``-X importtime`` collect-only run, largest first."""
    done = run_measured(
        [sys.executable, "-X", "importtime", "-m", "pytest", "--collect-only", "-q", "-s", *extra],
        cwd=PROJECT,
        env=env,
    )
    return summarize_importtime(done.output)


def summarize_importtime(text: str) -> list[tuple[str, float, int]]:
    """Each module's self time goes to its package's group; a standard-library module's to
    the group of the nearest importer outside the standard library (else python start-up)."""
    lines: list[tuple[int, str, int]] = []  # (depth, module, self microseconds)
    for line in text.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)", line)
        if found:
            lines.append((len(found.group(2)) // 2, found.group(3), int(found.group(1))))
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    # importtime prints a module after its imports; read backwards, a parent precedes its
    # children, so a stack of the groups along the current import chain is enough.
    chain: list[str | None] = []
    for depth, module, self_us in reversed(lines):
        del chain[depth:]
        group = _group_of(module)
        inherited = next((g for g in reversed(chain) if g is not None), None)
        chain.append(group if group is not None else inherited)
        owner = group or inherited or STARTUP
        totals[owner] += self_us / 1000
        counts[owner] += 1
    return sorted(
        ((name, ms, counts[name]) for name, ms in totals.items()), key=lambda row: -row[1]
    )


def _group_of(module: str) -> str | None:
    root = module.split(".")[0]
    if root.endswith("__mypyc"):  # charset_normalizer's compiled helpers
        return PACKAGE_GROUPS["charset_normalizer"]
    if root == "org":  # the standard library probing for Jython (copy, pickle)
        return None
    if root in PACKAGE_GROUPS:
        return PACKAGE_GROUPS[root]
    if root in sys.stdlib_module_names or root.lstrip("_") in sys.stdlib_module_names:
        return None
    if root.startswith(("__editable__", "_sysconfigdata")) or root in (
        "_distutils_hack",
        "sitecustomize",
    ):
        return None
    return root
