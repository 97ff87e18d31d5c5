"""A members' CSV is read as every staff upload is (csv_upload), and a file that cannot be read changes
nothing and says why, line by line."""

from __future__ import annotations

import pytest

from accessible_lib import vouching


def problems(data: bytes) -> list[tuple[int, str]]:
    with pytest.raises(vouching.VouchErrors) as raised:
        vouching.parse_vouch_csv(data)
    return [(line, vouching.message_of(error)) for line, error in raised.value.errors]


def test_a_spreadsheet_export_with_its_byte_order_mark_is_read() -> None:
    data = "\ufeffEmail,Category,Description\r\nbo@example.org,blind,\r\n\r\ncy@example.org,other,Aphasia\r\n"
    vouches = vouching.parse_vouch_csv(data.encode("utf-8"))
    assert vouches == [
        vouching.Vouch(2, "bo@example.org", "blind", ""),
        vouching.Vouch(4, "cy@example.org", "other", "Aphasia"),
    ]


def test_the_description_column_may_be_left_out() -> None:
    assert vouching.parse_vouch_csv(b"category,email\nblind,bo@example.org\n") == [
        vouching.Vouch(2, "bo@example.org", "blind", "")
    ]


NOT_UTF8 = "The file is not UTF-8 text. Save the spreadsheet as CSV UTF-8."
COLUMNS = (
    "The first line must name the columns email and category, and description for another disability; "
    "no other column."
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"email,category\n\xff\xfe", [(0, NOT_UTF8)]),
        (b"", [(1, "The file is empty; its first line must name the columns.")]),
        (b"email,category,colour\nbo@example.org,blind,red\n", [(1, COLUMNS)]),
        (b"email,description\nbo@example.org,x\n", [(1, COLUMNS)]),
        (b"email,category\n", [(2, "The file has no members after its first line.")]),
        (
            b"email,category,description\nbo@example.org,blind\ncy@example.org,blind,\n",
            [(2, "It has 2 cells, not 3.")],
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(data: bytes, expected) -> None:
    assert problems(data) == expected


def test_more_rows_than_allowed_are_refused_before_any_is_checked() -> None:
    data = "email,category\n" + "".join(f"m{n}@example.org,blind\n" for n in range(vouching.MAX_CSV_ROWS + 1))
    assert problems(data.encode()) == [(0, "At most 2000 members at a time.")]
