"""A tiny run of the benchmark, so the script cannot rot (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--n", "6", "--report-n", "12", "--jobs", "2",
         "--rounds", "2", "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("calamine_ms", "openpyxl_ms", "pandas_ms", "xlform_ms", "xlform_over_calamine", "report_s",
                "report_db_second_s", "distribute_per_s", "report_peak_mib", "pandas_calamine_ms", "report_1job_s",
                "parallel_efficiency", "check_ms_per_file", "check_json_ms_per_file", "report_small_ms_per_file",
                "xlform_over_calamine_best_passes", "export_ms_per_file", "export_csv_ms_per_file"):
        assert result[key] is not None and result[key] > 0, key
    assert result["rounds"] == 2
    assert "xlform read + check" in proc.stdout and "xlform export" in proc.stdout
    assert (tmp_path / "export.json").exists() and (tmp_path / "export.csv").exists()
    assert len(list((tmp_path / "inbox").glob("*.xlsx"))) == 12
    assert (tmp_path / "report.xlsx").exists() and (tmp_path / "report_db.xlsx").exists()
    assert len(list((tmp_path / "issued").rglob("*.xlsx"))) == 6
