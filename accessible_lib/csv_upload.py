"""A CSV file staff upload (rights, pronunciations), read into rows or into errors staff can act on.

Both imports take a spreadsheet's export as it comes: UTF-8 with or without its byte order mark, the
columns named on the first line in any order, blank lines skipped. What a file may hold differs (its
columns, how many rows, how big), so those are the caller's; the reading and its messages are one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from .i18n import gettext


@dataclass
class RowError:
    row: int  # 1 is the header line, so the first record is row 2, as a spreadsheet numbers it; 0: the file
    message: str

    def __str__(self) -> str:
        if not self.row:
            return self.message
        return gettext("Row %(row)d: %(problem)s", row=self.row, problem=self.message)


def read_rows(
    data: bytes,
    *,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    max_bytes: int,
    max_rows: int,
    columns_message: str,
    too_many_message: str,
) -> tuple[list[tuple[int, dict[str, str] | RowError]], list[RowError]]:
    """The rows, each (row number, values by column name) or, for a row with the wrong number of cells,
    (row number, its error), in the file's order, blank rows left out; or no rows and the file's error.

    columns_message: what to say when the first line does not name `columns` (with every `required` one,
    none twice); too_many_message: when there are more than `max_rows` rows."""
    if len(data) > max_bytes:
        limit = max(1, max_bytes // (1024 * 1024))
        return [], [RowError(0, gettext("The file is larger than %(limit)d MB.", limit=limit))]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(0, gettext("The file is not UTF-8 text. Save the spreadsheet as CSV UTF-8."))]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return [], [RowError(0, gettext("The file is not a CSV file that can be read."))]
    if not rows or not any(cell.strip() for cell in rows[0]):
        return [], [RowError(1, gettext("The file is empty; its first line must name the columns."))]
    header = [cell.strip().lower() for cell in rows[0]]
    if (
        any(name not in header for name in required)
        or any(name not in columns for name in header)
        or len(set(header)) != len(header)
    ):
        return [], [RowError(1, columns_message)]
    if len(rows) - 1 > max_rows:
        return [], [RowError(0, too_many_message)]
    found: list[tuple[int, dict[str, str] | RowError]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line at the end of a spreadsheet export
        if len(row) != len(header):
            message = gettext(
                "It has %(found)d cells, not %(expected)d.", found=len(row), expected=len(header)
            )
            found.append((number, RowError(number, message)))
            continue
        found.append((number, dict(zip(header, row, strict=True))))
    return found, []
