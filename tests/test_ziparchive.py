"""The direct zip reader and writer agree with zipfile on every kind of file a return arrives as."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from tests.helpers import sheet_names
from tests.lo import require_soffice, resave
from xlform.ooxml import ziparchive
from xlform.ooxml.ziparchive import BadZip, Member, TooManyMembers, directory, inflate, stored_zip


@pytest.fixture(autouse=True, params=["zlib-ng", "zlib"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with zlib-ng (installed with xlform) and with the standard zlib it falls back to."""
    if request.param == "zlib":
        monkeypatch.setattr(ziparchive, "zlib", zlib)
    else:
        assert ziparchive.zlib is not zlib, "zlib-ng is a dependency: it should be in use"


def _assert_same_as_zipfile(data: bytes) -> None:
    members = directory(data, 2000)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        assert [m.name for m in members] == [i.filename for i in infos]
        for m, i in zip(members, infos, strict=True):
            assert (m.crc, m.size, m.compressed_size, m.method) == (i.CRC, i.file_size, i.compress_size, i.compress_type)
            assert inflate(data, m) == zf.read(i)


def test_xlsxwriter_workbook(write, sample) -> None:
    _assert_same_as_zipfile(write(sample).read_bytes())


def test_workbook_resaved_by_libreoffice(write, sample, tmp_path: Path) -> None:
    require_soffice()
    _assert_same_as_zipfile(resave(write(sample), tmp_path / "lo").read_bytes())


def test_zip64_records_and_bytes_before_the_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    with monkeypatch.context() as m:
        m.setattr(zipfile, "ZIP64_LIMIT", 100)  # zipfile then writes Zip64 sizes and offsets for small members
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.xml", b"<a/>" * 100)
            zf.writestr("中文/b.xml", b"<b/>" * 100)
    assert b"PK\x06\x06" in out.getvalue()  # the Zip64 end record: read through zipfile
    _assert_same_as_zipfile(out.getvalue())
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xml", b"<a/>")
    # A stub before the archive (self-extractors): zipfile shifts every offset, and so do we.
    stub = b"MZ" + b"\0" * 510 + plain.getvalue()
    members = directory(stub, 10)
    assert inflate(stub, members[0]) == b"<a/>"


def test_damage_is_refused(write, sample) -> None:
    data = write(sample).read_bytes()
    with pytest.raises(BadZip):
        directory(data[: len(data) // 2], 2000)  # cut off in transfer: no directory
    with pytest.raises(TooManyMembers):
        directory(data, 3)
    m = next(m for m in directory(data, 2000) if m.name == "xl/workbook.xml")
    for bad in (
        Member(m.name, m.raw_name, m.flags, m.method, m.crc ^ 1, m.compressed_size, m.size, m.header_offset),  # CRC
        Member(m.name, m.raw_name, m.flags, m.method, m.crc, m.compressed_size, m.size - 1, m.header_offset),  # size lies
        Member(m.name, b"xl/other.xml", m.flags, m.method, m.crc, m.compressed_size, m.size, m.header_offset),  # local name
        Member(m.name, m.raw_name, m.flags, 12, m.crc, m.compressed_size, m.size, m.header_offset),  # bzip2
    ):
        with pytest.raises(BadZip):
            inflate(data, bad)
    flipped = bytearray(data)
    flipped[m.header_offset + 30 + len(m.raw_name) + 5] ^= 0xFF  # inside the deflate stream
    with pytest.raises(BadZip):
        inflate(bytes(flipped), m)


def test_stored_zip_reads_back_with_zipfile_and_calamine(write, sample) -> None:
    data = write(sample).read_bytes()
    parts = {m.name: inflate(data, m) for m in directory(data, 2000) if m.name.endswith((".xml", ".rels"))}
    out = stored_zip(parts, {name: zlib.crc32(body) for name, body in parts.items()})
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.testzip() is None
        assert {i.filename: zf.read(i) for i in zf.infolist()} == parts
    book = CalamineWorkbook.from_filelike(io.BytesIO(out))
    project = sheet_names()[0]
    assert project in book.sheet_names
    assert book.get_sheet_by_name(project).to_python()


def _zip(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            zf.writestr(name, b"<a/>")
    return out.getvalue()


def test_a_name_holding_nul_is_refused() -> None:
    """zipfile cuts a name at NUL, other readers keep it whole: `xl/workbook.xml\\0x` would be one part
    to one reader and another part to the next."""
    data = _zip("xl/workbook.xml#x", "xl/workbook.xml").replace(b"xl/workbook.xml#x", b"xl/workbook.xml\0x")
    with pytest.raises(BadZip):
        directory(data, 10)


def _end_record(data: bytes | bytearray) -> int:
    return data.rfind(b"PK\x05\x06")


def test_a_directory_that_its_entries_do_not_fill_is_refused() -> None:
    """zipfile reads entries until the directory's size is used up, others read as many as the count
    says: when the two disagree, each reader could see a different list of parts."""
    data = bytearray(_zip("a.xml", "b.xml"))
    at = _end_record(data)
    data[at + 8 : at + 12] = (1).to_bytes(2, "little") * 2  # "one entry" (on this disk, in all)
    with pytest.raises(BadZip):
        directory(bytes(data), 10)
    # Bytes after the last entry that the directory's size counts in.
    data = bytearray(_zip("a.xml", "b.xml"))
    at = _end_record(data)
    size = int.from_bytes(data[at + 12 : at + 16], "little")
    data[at + 12 : at + 16] = (size + 8).to_bytes(4, "little")
    with pytest.raises(BadZip):
        directory(bytes(data[:at] + b"\0" * 8 + data[at:]), 10)


def test_deflated_in_chunks_and_copied_members_read_back_with_zipfile(write, sample) -> None:
    data = write(sample).read_bytes()
    members = directory(data, 2000)
    body = b"<row/>" * 100_000
    chunks = [body[i : i + 7777] for i in range(0, len(body), 7777)]
    out = ziparchive.write_zip([ziparchive.deflated("big.xml", chunks), *(ziparchive.copied(data, m) for m in members)])
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.testzip() is None
        assert zf.read("big.xml") == body
        assert all(zf.read(m.name) == inflate(data, m) for m in members)


def test_an_archive_past_4_gib_is_refused_not_written_wrong() -> None:
    """Plain zip records hold 32-bit sizes; past that the writer says so instead of wrapping around."""
    too_big = ziparchive.Entry("huge.xml", ziparchive.DEFLATED, 0, 2**32, b"")  # claims 4 GiB uncompressed
    with pytest.raises(ziparchive.TooLarge):
        ziparchive.write_zip([too_big])
    assert ziparchive.write_zip([ziparchive.Entry("ok.xml", ziparchive.STORED, 0, 0, b"")])
