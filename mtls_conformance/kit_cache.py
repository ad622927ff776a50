"""A kit generated once per machine for the embedded target, so a cold run skips key generation."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mtls_conformance import __version__
from mtls_conformance.errors import KitError
from mtls_conformance.kit import Kit, create_kit, load_kit


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mtls-conformance"


def cached_kit(root: Path | None = None) -> Kit:
    """The cached embedded kit, made (atomically, so parallel runs cannot see half a kit) if
    missing or unreadable."""
    root = root or cache_root()
    directory = root / f"embedded-kit-{__version__}"
    try:
        return load_kit(directory)
    except KitError:
        pass
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".kit-", dir=root))
    try:
        create_kit(staging / "kit")
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(staging / "kit", directory)
    except OSError:
        # Another run won the race; its kit is as good as ours.
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_kit(directory)
