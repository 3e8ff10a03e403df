"""Shared fixtures: the `vlgor` binary the Python results are compared with."""

import os
import pathlib
import shutil

import pytest


@pytest.fixture(scope="session")
def vlgor_bin() -> str:
    """The release `vlgor` binary: $VLGOR_BIN, else $CARGO_TARGET_DIR/release/vlgor, else PATH."""
    candidates = [os.environ.get("VLGOR_BIN")]
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(str(pathlib.Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "vlgor"))
    candidates.append(shutil.which("vlgor"))
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    pytest.fail("no vlgor binary: set VLGOR_BIN or CARGO_TARGET_DIR (scripts/test.sh does)")
