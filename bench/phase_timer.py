"""A pytest plugin that notes when each phase of a suite run starts and ends (wall clock).

Loaded by bench/run.py with ``-p phase_timer`` (bench/ on PYTHONPATH); writes its figures as
JSON to the file named by ``MTLS_BENCH_PHASES`` when pytest unconfigures. It only measures:
the functions it wraps (kit loading, the preflight probe, every probe and handshake) keep
their behaviour, and without ``MTLS_BENCH_PHASES`` it writes nothing.

Times are ``time.time()`` (comparable with the parent's clock, which started the process);
spans are (start, end) pairs.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

ENV = "MTLS_BENCH_PHASES"

_marks: dict[str, float] = {"plugin_imported": time.time()}
_modules_at_import = len(sys.modules)
_spans: dict[str, list[tuple[float, float]]] = {}
_lock = threading.Lock()


def _mark(name: str) -> None:
    _marks.setdefault(name, time.time())


def _timed(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, noting each call's (start, end) under ``kind``."""
    if getattr(function, "_phase_timer", None):
        return function

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.time()
        try:
            return function(*args, **kwargs)
        finally:
            with _lock:
                _spans.setdefault(kind, []).append((started, time.time()))

    wrapper._phase_timer = True  # type: ignore[attr-defined]
    return wrapper


def _instrument() -> None:
    """Wrap what the suite calls for kits, preflight, probes and handshakes (modules loaded
    by conftest.py by now; nothing is imported here that the run would not import)."""
    suite = sys.modules.get("fixtures.suite")
    if suite is not None:
        for name, kind in (
            ("load_kit", "kit_load"),
            ("_embedded_kit", "kit_load"),
            ("ensure_testable", "preflight"),
        ):
            if hasattr(suite, name):
                setattr(suite, name, _timed(kind, getattr(suite, name)))
    prober = sys.modules.get("mtls_conformance.prober")
    if prober is not None:
        prober.ProbeRequest.run = _timed("probe", prober.ProbeRequest.run)
    # The handshake-only checks, wherever this version of the suite calls them from.
    for module_name in ("mtls_conformance.prober", "steps.server"):
        module = sys.modules.get(module_name)
        for name in ("advertised_ca_names", "server_certificate", "try_legacy_protocol"):
            if module is not None and hasattr(module, name):
                setattr(module, name, _timed("handshake", getattr(module, name)))


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests() -> Generator[None, None, None]:
    _mark("conftest_start")  # every plugin from -p and entry points is imported by now
    try:
        return (yield)
    finally:
        _mark("conftest_end")
        _instrument()


@pytest.hookimpl(trylast=True)
def pytest_configure() -> None:
    _mark("configure_end")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart() -> None:
    _mark("session_start")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection() -> Generator[None, None, None]:
    _mark("collection_start")
    try:
        return (yield)
    finally:
        _mark("collection_end")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_finish() -> Generator[None, None, None]:
    _mark("collection_finish_start")  # the preflight probes run in this hook
    try:
        return (yield)
    finally:
        _mark("collection_finish_end")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: Any) -> Generator[None, None, None]:
    name = fixturedef.argname
    started = time.time()
    try:
        return (yield)
    finally:
        if name in ("suites", "_start_all_probes"):
            _spans.setdefault(f"fixture:{name}", []).append((started, time.time()))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop() -> Generator[None, None, None]:
    _mark("runtestloop_start")
    try:
        return (yield)
    finally:
        _mark("runtestloop_end")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish() -> Generator[None, None, None]:
    _mark("sessionfinish_start")  # report writers (junit, html, cucumber) run in here
    try:
        return (yield)
    finally:
        _mark("sessionfinish_end")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary() -> Generator[None, None, None]:
    _mark("terminal_summary_start")
    try:
        return (yield)
    finally:
        _mark("terminal_summary_end")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure() -> None:
    _mark("unconfigure_end")
    path = os.environ.get(ENV)
    if not path:
        return
    document = {
        "marks": _marks,
        "spans": _spans,
        "modules_at_plugin_import": _modules_at_import,
        "modules_at_end": len(sys.modules),
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out)
