"""Bind every Gherkin feature under features/ to pytest: one test per scenario (and example)."""

from pathlib import Path

from pytest_bdd import scenarios

# An absolute path: pytest may pick another rootdir when option values are paths elsewhere.
scenarios(str(Path(__file__).resolve().parent.parent / "features"))
