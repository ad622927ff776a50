"""pytest plugins installed here that a fresh ``pip install -e '.[dev]'`` would not bring.

The benchmark's target is a fresh machine. A development image may hold more pytest plugins
(hypothesis, pytest-benchmark...) that load into every pytest run. The project's
pyproject.toml disables the two known costly ones, but pytest reads no pyproject.toml at all
when an option value is a path outside the project (``--certs /elsewhere/kit``: pytest takes
it for a test path when choosing its rootdir), which is how the remote runs are invoked.
So the benchmark disables every such foreign plugin for the suite runs (``PYTEST_ADDOPTS``),
which is a no-op on a fresh machine; ``--as-installed`` keeps them.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re

from packaging.requirements import Requirement


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(root: str, extras: frozenset[str] = frozenset({"dev"})) -> set[str]:
    """Canonical names of ``root`` and everything it requires, transitively, with extras."""
    seen: set[str] = set()
    pending: list[tuple[str, frozenset[str]]] = [(root, extras)]
    while pending:
        name, wanted = pending.pop()
        key = _canonical(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            applies = marker is None or any(
                marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            )
            if applies and _canonical(requirement.name) not in seen:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return seen


def foreign_plugins(project: str = "mtls-conformance") -> list[tuple[str, str]]:
    """(entry point name, "distribution version") of pytest11 plugins outside the closure."""
    closure = dependency_closure(project)
    found = []
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if _canonical(name) in closure:
            continue
        for entry in distribution.entry_points:
            if entry.group == "pytest11":
                found.append((entry.name, f"{name} {distribution.version}"))
    return sorted(set(found))


def disabling_addopts(plugins: list[tuple[str, str]]) -> str:
    return " ".join(f"-p no:{name}" for name, _ in plugins)
