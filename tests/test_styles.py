"""Number formats as the reader needs them: whether a number shows as a percent, a date or a duration."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from xlform.reading.styles import Shown, as_shown, format_shows


@pytest.mark.parametrize(("code", "shown"), [
    ("yyyy-mm-dd", Shown.DATE), ('yyyy"年"m"月"d"日"', Shown.DATE), ("[$-F800]dddd, mmmm dd, yyyy", Shown.DATE),
    ("h:mm AM/PM", Shown.DATE), ("[h]:mm:ss", Shown.DURATION), ("[mm]:ss", Shown.DURATION),
    ("0.00%", Shown.PERCENT), ("#,##0.00", Shown.NUMBER), ("0.00_);[Red](0.00)", Shown.NUMBER),
    ('"day "0', Shown.NUMBER), ("\\d0", Shown.NUMBER), ("[DBNum1][$-804]General", Shown.NUMBER),
    ("[Red]0.00", Shown.NUMBER), ("0;yyyy-mm-dd", Shown.NUMBER), ("@", Shown.NUMBER), ("", Shown.NUMBER),
])
def test_what_a_format_code_shows(code: str, shown: Shown) -> None:
    assert format_shows(code) is shown


@pytest.mark.parametrize(("serial", "shown", "value"), [
    (46082, Shown.DATE, date(2026, 3, 1)),
    (46082.395833333336, Shown.DATE, datetime(2026, 3, 1, 9, 30)),
    (0.5, Shown.DATE, time(12, 0)),
    (1, Shown.DATE, date(1900, 1, 1)), (61, Shown.DATE, date(1900, 3, 1)),
    (1.5, Shown.DURATION, timedelta(hours=36)),
    (-1e30, Shown.DATE, -1e30), (1e300, Shown.DATE, 1e300), (-5, Shown.DATE, -5),  # no calendar holds them
    (46082, Shown.NUMBER, 46082), (float("nan"), Shown.DATE, None),
])
def test_a_serial_as_its_cell_shows_it(serial: float, shown: Shown, value: object) -> None:
    got = as_shown(serial, shown)
    assert got == value if value is not None else got != got  # nan stays nan
