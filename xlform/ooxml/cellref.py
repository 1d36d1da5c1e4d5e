"""A1-style cell names: a column's letters from its 0-based index and back, and a cell's name.

Here rather than xlsxwriter's utility module so that reading and checking never import xlsxwriter
(a twentieth of a second of every command that only reads)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1024)  # the same few dozen columns in every return
def column_letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """A → 0, AA → 26 (letters in upper case)."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def cell_name(row: int, col: int) -> str:
    """(6, 1), 0-based → B7."""
    return f"{column_letters(col)}{row + 1}"
