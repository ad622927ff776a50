"""The benchmark of issue 5: ``python bench/run.py`` prints every figure of BENCHMARKS.md.

Setups, each compared in the same run with a sequential curl loop doing the same checks
(bench/baseline.py), median of ``--runs`` runs:
  a) the embedded reference DLB: a cold ``pytest`` (no --host; the kit cache is warm);
  b) a local nginx configured like the DLB (tests/dlb_nginx.py), one listener per mode;
  c) the same nginx behind bench/latency_proxy.py, ``--delay-ms`` each way;
  d) ten DLB-like nginx listeners behind the proxy in one run (``--targets`` file with ten
     lines) against one (a file with one line).
Then the start-up breakdown of a cold embedded ``pytest`` (bench/startup.py).

Everything listens on and talks to 127.0.0.1 only. Nothing here asserts a timing: it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
for extra_path in (PROJECT, PROJECT / "tests", BENCH):  # this checkout's library first
    if str(extra_path) not in sys.path:
        sys.path.insert(0, str(extra_path))

from baseline import CheckList, Endpoint, LoopResult, run_loop  # noqa: E402
from dlb_nginx import DlbNginx  # noqa: E402
from echo import EchoServer  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402
from measure import Sample, env_without_pytest_addopts, median_sample, run_measured  # noqa: E402
from plugins import disabling_addopts, foreign_plugins  # noqa: E402
from realservers import NginxServer  # noqa: E402
from startup import (  # noqa: E402
    STARTUP,
    embedded_argv,
    import_summary,
    one_phase_run,
    phase_table,
)

from mtls_conformance.embedded import EMBEDDED_ECHO_PATH, embedded_dlb  # noqa: E402
from mtls_conformance.kit import Kit, load_kit  # noqa: E402
from mtls_conformance.kit_cache import cached_kit  # noqa: E402

MODES = ("mandatory", "optional")
API_PATH = "/products"
ECHO_PATH = "/anything"


@dataclass
class Comparison:
    """One row: the suite and the curl loop against the same target, run after run."""

    setup: str
    suite: list[Sample] = field(default_factory=list)
    loops: list[LoopResult] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def add(self, suite: Sample, loop: LoopResult) -> None:
        self.suite.append(suite)
        self.loops.append(loop)
        found = re.findall(r"(\d+) (passed|failed|skipped|error)", suite.output)
        self.passed.append(", ".join(f"{n} {what}" for n, what in found) or "?")


# --- the suite's command lines


def remote_suite_argv(kit: Kit, port: int, mode: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "--host",
        "localhost",
        "--connect-to",
        "127.0.0.1",
        "--port",
        str(port),
        "--certs",
        str(kit.directory),
        "--server-ca",
        str(kit.server_ca),
        "--mode",
        mode,
        "--path",
        API_PATH,
        "--echo-path",
        ECHO_PATH,
        "--with-crl",
        "--no-reports",
        "-q",
    ]


def targets_suite_argv(kit: Kit, targets_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "--targets",
        str(targets_file),
        "--certs",
        str(kit.directory),
        "--server-ca",
        str(kit.server_ca),
        "--with-crl",
        "--no-reports",
        "-q",
    ]


def endpoint(port: int) -> Endpoint:
    return Endpoint("localhost", port, "127.0.0.1", API_PATH, ECHO_PATH)


# --- servers


@contextlib.contextmanager
def dlb_like_nginx(kit: Kit, modes: Sequence[str]) -> Iterator[NginxServer]:
    """One nginx, one DLB-like listener per entry of ``modes``, an echo backend behind."""
    with EchoServer() as backend:
        blocks = "".join(
            DlbNginx(mode).server_block(kit, f"@port{i}@", backend.port)
            for i, mode in enumerate(modes)
        )
        with NginxServer(blocks, port_count=len(modes)) as nginx:
            yield nginx


@contextlib.contextmanager
def proxies(ports: Sequence[int], delay: float) -> Iterator[list[LatencyProxy]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(LatencyProxy(port, delay=delay)) for port in ports]


# --- the setups


def setup_embedded(kit: Kit, checks: CheckList, runs: int, env: dict[str, str]) -> Comparison:
    row = Comparison("a) embedded reference DLB, both modes (cold pytest)")
    reports = Path(checks.workdir) / "reports"
    with embedded_dlb(kit) as dlb:  # the curl loop's target; the suite starts its own
        loop_checks = checks.for_mode(endpoint(dlb.port("mandatory")), "mandatory")
        loop_checks += checks.for_mode(
            endpoint(dlb.port("optional")), "optional", server_side=False
        )
        if not dlb.echo_path == EMBEDDED_ECHO_PATH == ECHO_PATH:
            raise RuntimeError(f"the embedded echo path is {dlb.echo_path}, not {ECHO_PATH}")
        for _ in range(runs):
            suite = run_measured(embedded_argv(reports), cwd=PROJECT, env=env)
            row.add(suite, run_loop(loop_checks))
    return row


def setup_nginx(
    kit: Kit, checks: CheckList, runs: int, env: dict[str, str], delay: float
) -> list[Comparison]:
    rows = []
    with dlb_like_nginx(kit, MODES) as nginx:
        for mode, port in zip(MODES, nginx.ports, strict=True):
            direct = Comparison(f"b) nginx like the DLB, {mode}")
            behind = Comparison(f"c) nginx behind {delay * 1000:g} ms one way, {mode}")
            with proxies([port], delay) as (proxy,):
                for row, target_port in ((direct, port), (behind, proxy.port)):
                    loop_checks = checks.for_mode(endpoint(target_port), mode)
                    argv = remote_suite_argv(kit, target_port, mode)
                    for _ in range(runs):
                        row.add(run_measured(argv, cwd=PROJECT, env=env), run_loop(loop_checks))
            rows += [direct, behind]
    order = {name[:2]: i for i, name in enumerate(("b)", "c)"))}
    return sorted(rows, key=lambda row: order[row.setup[:2]])


@dataclass
class ManyTargets:
    count: int
    one: list[Sample] = field(default_factory=list)
    many: list[Sample] = field(default_factory=list)
    passed_one: list[str] = field(default_factory=list)
    passed_many: list[str] = field(default_factory=list)


def setup_many_targets(
    kit: Kit, runs: int, env: dict[str, str], delay: float, count: int, workdir: Path
) -> ManyTargets:
    result = ManyTargets(count)
    with dlb_like_nginx(kit, ["mandatory"] * count) as nginx, proxies(nginx.ports, delay) as px:
        lines = [
            f"localhost:{proxy.port} mode=mandatory path={API_PATH} echo-path={ECHO_PATH} "
            "connect-to=127.0.0.1"
            for proxy in px
        ]
        one, many = workdir / "one-target.txt", workdir / f"{count}-targets.txt"
        one.write_text(lines[0] + "\n")
        many.write_text("\n".join(lines) + "\n")
        for _ in range(runs):
            for samples, passed, file in (
                (result.one, result.passed_one, one),
                (result.many, result.passed_many, many),
            ):
                done = run_measured(targets_suite_argv(kit, file), cwd=PROJECT, env=env)
                samples.append(done)
                found = re.findall(r"(\d+) (passed|failed|error)", done.output)
                passed.append(", ".join(f"{n} {what}" for n, what in found) or "?")
    return result


# --- printing


def _fmt_sample(sample: Sample) -> str:
    return f"{sample.wall:6.2f} s {sample.cpu:6.2f} s {sample.maxrss_mib:6.0f} MiB"


def print_comparisons(rows: Sequence[Comparison], runs: int) -> None:
    print(f"\nSuite vs sequential curl loop, median of {runs} runs")
    print(
        f"{'setup':48s} | {'suite: wall     CPU    peak RSS':31s} | "
        f"{'curl loop: wall  CPU   peak RSS':31s} | wall ratio | results"
    )
    for row in rows:
        suite = median_sample(row.suite)
        loop = median_sample([loop.sample for loop in row.loops])
        ratios = [s.wall / lp.sample.wall for s, lp in zip(row.suite, row.loops, strict=True)]
        mismatched = {m for loop in row.loops for m in loop.mismatches}
        checks = row.loops[0].checks
        as_expected = f"curl {checks - len(mismatched)}/{checks} as expected"
        print(
            f"{row.setup:48s} | {_fmt_sample(suite)} | {_fmt_sample(loop)} | "
            f"{statistics.median(ratios):5.2f}      | suite {row.passed[-1]}; {as_expected}"
        )
        for problem in sorted(mismatched):
            print(f"{'':48s}   curl check differs: {problem}")
        failing = [s for s in row.suite if s.returncode != 0]
        if failing:
            print(f"{'':48s}   suite exit {failing[0].returncode}: {failing[0].output[-400:]}")
    print("  wall: seconds from start to exit; CPU: user+system of the suite process (for a,")
    print("  the embedded DLB's threads too) or summed over the loop's curl/openssl processes;")
    print("  peak RSS: the suite process, or the largest curl/openssl process of the loop.")
    print("  wall ratio: median over runs of suite wall / curl loop wall in the same run.")


def print_many(result: ManyTargets, runs: int, delay: float) -> None:
    one, many = median_sample(result.one), median_sample(result.many)
    ratios = [m.wall / o.wall for o, m in zip(result.one, result.many, strict=True)]
    print(f"\nMany targets in one run, behind {delay * 1000:g} ms one way, median of {runs} runs")
    print(f"{'run':30s} | {'wall     CPU    peak RSS':29s} | results")
    print(f"{'1 target (--targets, 1 line)':30s} | {_fmt_sample(one)} | {result.passed_one[-1]}")
    print(
        f"{f'{result.count} targets (--targets)':30s} | {_fmt_sample(many)} | "
        f"{result.passed_many[-1]}"
    )
    print(f"wall ratio {result.count} targets / 1 target: {statistics.median(ratios):.2f}")
    for sample in result.one + result.many:
        if sample.returncode != 0:
            print(f"  a suite run exited {sample.returncode}: {sample.output[-400:]}")
            break


def print_startup(env: dict[str, str], runs: int) -> dict[str, object]:
    phase_runs = [one_phase_run(env) for _ in range(runs)]
    table = phase_table(phase_runs)
    total = statistics.median(run.total for run in phase_runs)
    print(f"\nStart-up of a cold embedded pytest (kit cached), median of {runs} runs")
    print(f"  wall, spawn to exit: {total:.2f} s ({phase_runs[-1].passed})")
    print(
        f"  first probe starts {statistics.median(r.first_probe for r in phase_runs):.2f} s "
        f"after spawn; {phase_runs[-1].probes} probes, first start to last end "
        f"{statistics.median(r.probe_span for r in phase_runs):.3f} s, added up "
        f"{statistics.median(r.probe_sum for r in phase_runs):.3f} s"
    )
    for name, seconds in table:
        print(f"  {name:52s} {seconds * 1000:7.0f} ms  {seconds / total:5.1%}")
    imports = import_summary(env)
    total_ms = sum(ms for _, ms, _ in imports)
    print("\nImports of a collect-only run (-X importtime, self time per package group)")
    for name, ms, modules in imports[:14]:
        print(f"  {name:52s} {ms:7.0f} ms  {ms / total_ms:5.1%}  {modules:4d} modules")
    rest = imports[14:]
    if rest:
        print(
            f"  {'(others)':52s} {sum(ms for _, ms, _ in rest):7.0f} ms  "
            f"{sum(ms for _, ms, _ in rest) / total_ms:5.1%}"
        )
    print(f"  {'total (inflated by -X importtime itself)':52s} {total_ms:7.0f} ms")
    print(f"  ({STARTUP}: the interpreter's own imports before any package)")
    return {
        "wall": total,
        "phases": table,
        "imports": imports,
        "first_probe": statistics.median(r.first_probe for r in phase_runs),
    }


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
    return {
        "cores (nproc)": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python ssl": ssl.OPENSSL_VERSION,
        "nginx": nginx.stderr.strip().removeprefix("nginx version: "),
        "curl": curl.stdout.splitlines()[0] if curl.stdout else "?",
    }


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores, from /proc/stat)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        # user nice system idle iowait irq softirq steal ...: busy is user..system + irqs
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return (sum(fields[:3]) + fields[5] + fields[6]) / os.sysconf("SC_CLK_TCK")
    return 0.0


def own_seconds() -> float:
    """CPU seconds of this process and every child it has reaped (suites, curls, nginx...)."""
    me, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median; 5)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="one-way latency (50)")
    parser.add_argument("--targets", type=int, default=10, help="targets in setup d (10)")
    parser.add_argument(
        "--only",
        default="a,b,c,d,startup",
        help="comma-separated subset of a,b,c,d,startup (b and c run together)",
    )
    parser.add_argument(
        "--as-installed",
        action="store_true",
        help="keep pytest plugins that are installed here but are not dependencies of "
        "mtls-conformance[dev] (by default the suite runs without them, as on a fresh machine)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50 or not 1 <= args.targets <= 50:
        parser.error("--runs and --targets: between 1 and 50")
    if not 0 <= args.delay_ms <= 1000:
        parser.error("--delay-ms: between 0 and 1000")
    wanted = set(args.only.split(","))
    missing = [tool for tool in ("curl", "openssl", "nginx") if shutil.which(tool) is None]
    if missing and wanted - {"startup"}:
        parser.error(f"needs {', '.join(missing)} on PATH (apt-get install -y nginx curl)")

    started = time.perf_counter()
    busy_before, own_before, load_before = busy_seconds(), own_seconds(), os.getloadavg()[0]
    env = env_without_pytest_addopts()
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    foreign = foreign_plugins()
    if foreign:
        listed = ", ".join(f"{name} ({dist})" for name, dist in foreign)
        if args.as_installed:
            print(f"pytest plugins not from mtls-conformance[dev], kept (--as-installed): {listed}")
        else:
            env["PYTEST_ADDOPTS"] = disabling_addopts(foreign)
            print(
                f"pytest plugins not from mtls-conformance[dev], disabled for the suite runs as "
                f"on a fresh install (PYTEST_ADDOPTS={env['PYTEST_ADDOPTS']!r}): {listed}"
            )
    info["foreign pytest plugins"] = (
        "none"
        if not foreign
        else ("kept: " if args.as_installed else "disabled: ")
        + ", ".join(dist for _, dist in foreign)
    )
    cached = cached_kit()  # what the embedded run uses (made once per machine)
    checks = CheckList(cached)
    delay = args.delay_ms / 1000
    figures: dict[str, object] = {"machine": info, "runs": args.runs, "delay_ms": args.delay_ms}
    try:
        # The remote runs get a copy in the benchmark's own temp dir: pytest takes a --certs
        # path outside the project for its rootdir and leaves a .pytest_cache there.
        shutil.copytree(cached.directory, checks.workdir / "kit")
        kit = load_kit(checks.workdir / "kit")
        rows: list[Comparison] = []
        if "a" in wanted:
            rows.append(setup_embedded(cached, checks, args.runs, env))
        if wanted & {"b", "c"}:
            rows += [
                row
                for row in setup_nginx(kit, checks, args.runs, env, delay)
                if row.setup[0] in wanted
            ]
        if rows:
            print_comparisons(rows, args.runs)
            figures["comparisons"] = [
                {
                    "setup": row.setup,
                    "suite": [asdict(s) | {"output": ""} for s in row.suite],
                    "loop": [asdict(lp.sample) for lp in row.loops],
                    "loop_checks": row.loops[0].checks,
                    "loop_mismatches": sorted({m for lp in row.loops for m in lp.mismatches}),
                    "suite_results": row.passed,
                }
                for row in rows
            ]
        if "d" in wanted:
            many = setup_many_targets(kit, args.runs, env, delay, args.targets, checks.workdir)
            print_many(many, args.runs, delay)
            figures["many_targets"] = {
                "count": many.count,
                "one": [asdict(s) | {"output": ""} for s in many.one],
                "many": [asdict(s) | {"output": ""} for s in many.many],
            }
        if "startup" in wanted:
            figures["startup"] = print_startup(env, args.runs)
    finally:
        shutil.rmtree(checks.workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    others = (busy_seconds() - busy_before) - (own_seconds() - own_before)
    cores = os.cpu_count() or 1
    print(
        f"\nbenchmark took {elapsed:.0f} s; load average at start {load_before:.2f}; "
        f"other processes used {max(others, 0):.0f} CPU s meanwhile "
        f"({max(others, 0) / (elapsed * cores):.0%} of the machine)"
    )
    if others > 0.05 * elapsed * cores:
        print("  (figures are noisier than on an idle machine: rerun when it is quiet)")
    figures["noise"] = {"load_at_start": load_before, "other_cpu_seconds": others}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
