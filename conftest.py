"""Thin hub: the suite's options, fixtures and steps live in the modules named here."""

pytest_plugins = [
    "fixtures.options",
    "fixtures.suite",
    "fixtures.evidence",
    "fixtures.reporting",
    "fixtures.process",
    "steps.certificates",
    "steps.calls",
    "steps.verdicts",
    "steps.server",
]

# When pytest starts without this project's pyproject.toml (an option value was a path
# outside the project), it collects from here: the suite lives in steps/ alone.
collect_ignore = ["tests", "bench", "examples", "build"]
