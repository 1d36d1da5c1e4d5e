"""Shared helpers: write a declaration to a real workbook and read it back."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from xlform.form.model import Declaration
from xlform.form.sample import sample_declaration
from xlform.form.template import load_template
from xlform.reading.reader import read
from xlform.writing.workbook import write_workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests import tests.lo


@pytest.fixture
def sample() -> Declaration:
    return sample_declaration()


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(declaration=None, template="shanghai-2020", name="form.xlsx") -> path of a real workbook."""
    counter = iter(range(10**6))

    def _write(declaration: Declaration | None = None, template: str = "shanghai-2020", name: str | None = None) -> Path:
        path = tmp_path / (name or f"form{next(counter)}.xlsx")
        write_workbook(load_template(template), path, declaration)
        return path

    return _write


@pytest.fixture
def roundtrip(write: Callable[..., Path]) -> Callable[..., Declaration]:
    """roundtrip(declaration, template) -> the declaration read back from a written workbook."""

    def _roundtrip(declaration: Declaration, template: str = "shanghai-2020") -> Declaration:
        return read(write(declaration, template))

    return _roundtrip


IN_CI = bool(os.environ.get("CI"))
