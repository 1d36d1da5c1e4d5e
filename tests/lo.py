"""Headless LibreOffice helpers for tests: re-save a workbook, or type values into it through UNO.

Every soffice gets a private user profile (cached per test process), so a running desktop instance,
a parallel worker or a stale lock never swallows the request. Processes are started in their own
process group and that group is always terminated before returning.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest

__all__ = ["SOFFICE", "XLSX_FILTER", "export_pdf", "fill_cells", "pdf_pages", "recalculate", "require_cjk_font", "require_soffice",
           "resave"]

XLSX_FILTER = "Calc MS Excel 2007 XML"
PDF_FILTER = "calc_pdf_Export"
TIMEOUT = 120.0  # seconds for one conversion / one fill
CONNECT_TIMEOUT = 60.0  # seconds to wait for soffice to accept UNO connections


def _find_soffice() -> str | None:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    for candidate in ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _find_python_uno() -> str | None:
    # the uno module ships for the system interpreter only (Debian python3-uno)
    for candidate in ("/usr/bin/python3", "/usr/lib/libreoffice/program/python"):
        if not os.access(candidate, os.X_OK):
            continue
        try:
            ok = subprocess.run([candidate, "-c", "import uno"], env=_clean_env(), capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return candidate
    return None


def _clean_env() -> dict[str, str]:
    # keep the project's interpreter settings away from the system python and soffice
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.setdefault("HOME", tempfile.gettempdir())
    return env


SOFFICE: str | None = _find_soffice()
_python_uno: str | bool | None = False  # False: not looked up yet


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} missing in CI")
    pytest.skip(f"{what} not installed")


def require_soffice() -> str:
    """Path of soffice; skips the test when LibreOffice is missing (fails instead when CI is set)."""
    if SOFFICE is None:
        _missing("soffice")
    assert SOFFICE is not None
    return SOFFICE


def require_cjk_font() -> None:
    """Skips (fails in CI) without a Chinese font: LibreOffice would print every character as the same
    placeholder box, and line breaks and page fills would not be the ones a clerk gets."""
    fc_list = shutil.which("fc-list")
    found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True).stdout if fc_list else ""
    if not found.strip():
        _missing("a Chinese font (fonts-noto-cjk)")


def _require_python_uno() -> str:
    global _python_uno
    if _python_uno is False:
        _python_uno = _find_python_uno()
    if not _python_uno:
        _missing("python3 with the uno module")
    assert isinstance(_python_uno, str)
    return _python_uno


# ---------------------------------------------------------------- profile and process handling

DEFAULT_LOCALE = "zh-CN"  # a Chinese department's LibreOffice: decides how typed dates and numbers are parsed

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse"><value>{locale}</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""

_profiles: dict[str, Path] = {}


def _profile_dir(locale: str = DEFAULT_LOCALE) -> Path:
    """A private LibreOffice user profile per locale, created once per test process (first start costs a second)."""
    profile = _profiles.get(locale)
    if profile is None or not profile.exists():
        profile = Path(tempfile.mkdtemp(prefix="xlform-lo-profile-"))
        (profile / "user").mkdir()
        (profile / "user" / "registrymodifications.xcu").write_text(_XCU.format(locale=locale), encoding="utf-8")
        atexit.register(shutil.rmtree, profile, True)
        _profiles[locale] = profile
    return profile


def _drop_profile(locale: str = DEFAULT_LOCALE) -> None:
    # after a kill the profile may hold a lock or half-written state: start the next call afresh
    profile = _profiles.pop(locale, None)
    if profile is not None:
        shutil.rmtree(profile, ignore_errors=True)


def _profile_arg(locale: str = DEFAULT_LOCALE) -> str:
    return "-env:UserInstallation=" + _profile_dir(locale).as_uri()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> bool:
    """Terminate soffice and everything it spawned (oosplash -> soffice.bin), waiting until all are gone.

    Returns True when processes had to be killed (the profile may then be left locked)."""
    pgid = proc.pid  # start_new_session=True: the group id is the child's pid
    deadline = time.monotonic() + grace
    while True:  # give a soffice that was asked to quit the chance to do it itself
        if proc.poll() is not None and not _group_alive(pgid):
            return False
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _group_alive(pgid):
            proc.poll()  # reap the direct child so it does not linger as a zombie group member
            time.sleep(0.1)
        if not _group_alive(pgid):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return True


def _popen(args: list[str], capture: bool = True) -> subprocess.Popen[bytes]:
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=_clean_env(), start_new_session=True)


# ---------------------------------------------------------------- resave, export_pdf


def resave(src: Path, dst_dir: Path) -> Path:
    """Open src in headless LibreOffice and save it again as xlsx into dst_dir; returns the new file."""
    return _convert(src, dst_dir, "xlsx", XLSX_FILTER)


def export_pdf(src: Path, dst_dir: Path) -> Path:
    """Print src to PDF in headless LibreOffice (every visible sheet, as its page setup says); returns the PDF."""
    return _convert(src, dst_dir, "pdf", PDF_FILTER)


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of a PDF, laid out as printed (poppler's pdftotext)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        _missing("pdftotext")
    assert pdftotext is not None
    run = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, timeout=TIMEOUT, check=True)
    return run.stdout.decode("utf-8").split("\f")[:-1]  # each page ends with a form feed


def _convert(src: Path, dst_dir: Path, ext: str, filter_name: str) -> Path:
    soffice = require_soffice()
    src, dst_dir = Path(src).resolve(), Path(dst_dir).resolve()
    assert src.is_file(), f"no such workbook: {src}"
    assert dst_dir != src.parent, f"converting would overwrite its input: choose an output directory other than {dst_dir}"
    dst_dir.mkdir(parents=True, exist_ok=True)
    out = dst_dir / (src.stem + "." + ext)
    out.unlink(missing_ok=True)  # never mistake a stale file for the result
    args = [soffice, "--headless", "--norestore", "--nologo", "--nolockcheck", _profile_arg(),
            "--convert-to", f"{ext}:{filter_name}", "--outdir", str(dst_dir), str(src)]
    proc = _popen(args)
    timed_out = killed = False
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out, killed = True, _stop(proc, grace=0)
        stdout, stderr = proc.communicate()
    finally:
        killed = _stop(proc) or killed
    if killed:
        _drop_profile()
    ok = not timed_out and proc.returncode == 0 and out.is_file() and out.stat().st_size > 0
    assert ok, (f"LibreOffice conversion failed ({'timeout' if timed_out else f'exit {proc.returncode}'}; "
                f"output {'missing' if not out.is_file() else 'present'}): {' '.join(args)}\n"
                f"stdout:\n{stdout.decode(errors='replace')}\nstderr:\n{stderr.decode(errors='replace')}")
    return out


# ---------------------------------------------------------------- fill_cells (UNO)

_FILL_SCRIPT = r'''
import json, os, sys, time, traceback
import uno
from com.sun.star.beans import PropertyValue

def stage(text):
    print("fill: " + text, file=sys.stderr, flush=True)

def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p

def connect(url, timeout):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(url + "StarOffice.ComponentContext")
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

def named_cell(doc, name, sheet_name):
    sheets = doc.Sheets
    holders = [doc.NamedRanges]
    if sheet_name != "*" and sheets.hasByName(sheet_name):
        holders.insert(0, sheets.getByName(sheet_name).NamedRanges)  # sheet-local names first
    holders += [sheets.getByIndex(i).NamedRanges for i in range(sheets.Count)]
    for holder in holders:
        if holder.hasByName(name):
            cells = holder.getByName(name).getReferredCells()
            if cells is None:
                raise KeyError("defined name %r does not refer to cells" % name)
            return cells.getCellByPosition(0, 0)
    raise KeyError("no defined name %r" % name)

def type_into(doc, values, errors):
    sheets = doc.Sheets
    for sheet_name, cells in values.items():
        for key, value in cells.items():
            where = "%s!%s" % (sheet_name, key)
            try:
                if key.startswith("name:"):
                    cell = named_cell(doc, key[5:], sheet_name)
                else:
                    if not sheets.hasByName(sheet_name):
                        raise KeyError("no sheet %r" % sheet_name)
                    cell = sheets.getByName(sheet_name).getCellRangeByName(key).getCellByPosition(0, 0)
                sheet = sheets.getByIndex(cell.getCellAddress().Sheet)
                where += " (%s!%s)" % (sheet.Name, cell.AbsoluteName.split(".")[-1].replace("$", ""))
                if sheet.isProtected() and cell.CellProtection.IsLocked:
                    raise PermissionError("cell is locked on a protected sheet")
                if value is None:
                    cell.clearContents(1 | 2 | 4 | 16)  # VALUE|DATETIME|STRING|FORMULA
                elif isinstance(value, str):
                    cell.setPropertyValue("FormulaLocal", value)  # parsed like typing, in the profile's locale
                else:
                    cell.setValue(value)
                if value not in (None, "") and cell.getType().value == "EMPTY":
                    raise RuntimeError("value was not written")
            except Exception as exc:
                errors.append("%s: %s: %s" % (where, type(exc).__name__, exc))

def main():
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    result = {"errors": [], "saved": False, "fatal": None}
    desktop = None
    try:
        ctx = connect(spec["connect"], spec["connect_timeout"])
        stage("connected")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(spec["src"]), "_blank", 0, (prop("Hidden", True),))
        if doc is None:
            raise RuntimeError("LibreOffice could not open " + spec["src"])
        stage("loaded")
        try:
            type_into(doc, spec["values"], result["errors"])
            stage("typed")
            if spec["calculate"]:
                doc.calculateAll()  # a loaded xlsx keeps its cached values until told to recalculate
                stage("calculated")
            if not result["errors"]:
                doc.storeToURL(uno.systemPathToFileUrl(spec["dst"]), (prop("FilterName", spec["filter"]), prop("Overwrite", True)))
                result["saved"] = True
                stage("stored")
        finally:
            doc.close(True)
            stage("closed")
    except Exception:
        result["fatal"] = traceback.format_exc()
    with open(spec["result"], "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)
    if desktop is not None:
        try:
            desktop.terminate()  # the connection drops while soffice quits
        except Exception:
            pass
    stage("done")
    os._exit(0)  # python-uno may crash tearing down a dropped bridge; the result is already written

main()
'''

CellValue = str | int | float | None


def recalculate(src: Path, dst: Path, *, locale: str = DEFAULT_LOCALE) -> None:
    """Open src in LibreOffice, recalculate every formula, save as xlsx to dst (its cached values are LibreOffice's)."""
    fill_cells(src, dst, {}, locale=locale, calculate=True)


def fill_cells(src: Path, dst: Path, values: Mapping[str, Mapping[str, CellValue]], *, locale: str = DEFAULT_LOCALE,
               calculate: bool = False) -> None:
    """Open src in LibreOffice, type values as a clerk would, save as xlsx to dst.

    values: {sheet name: {"C4": "text" | number | None}}; a key "name:<defined name>" targets the
    top-left cell of that name (its sheet key is ignored, use "*"). Strings are entered like typed
    input in `locale` (the cell property FormulaLocal, not setFormula, which parses en-US and neither
    applies the detected number format nor respects a Text-formatted cell): "100%" -> 1 formatted
    0.00%, "2020-01-01" -> a date, "0123" stays text in a Text cell, "=..." is a formula.
    Numbers go through setValue; None clears the cell.
    Writing into a locked cell of a protected sheet, or an unknown sheet/name, raises AssertionError.
    calculate: recalculate every formula before saving.
    """
    soffice = require_soffice()
    python = _require_python_uno()
    src, dst = Path(src).resolve(), Path(dst).resolve()
    assert src.is_file(), f"no such workbook: {src}"
    assert src != dst, "fill_cells would overwrite its input"
    for sheet, cells in values.items():
        for key, value in cells.items():
            if not (value is None or isinstance(value, str | int | float)):
                raise TypeError(f"{sheet}!{key}: unsupported value {value!r}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    pipe = f"xlform_{os.getpid()}_{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="xlform-lo-fill-") as tmp:
        script, spec_file, result_file = Path(tmp, "fill.py"), Path(tmp, "spec.json"), Path(tmp, "result.json")
        script.write_text(_FILL_SCRIPT, encoding="utf-8")
        spec = {"src": str(src), "dst": str(dst), "values": values, "filter": XLSX_FILTER, "result": str(result_file),
                "calculate": calculate, "connect": f"uno:pipe,name={pipe};urp;", "connect_timeout": CONNECT_TIMEOUT}
        spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        office = _popen([soffice, "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
                         _profile_arg(locale), f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"], capture=False)
        finished = False  # the script ran to its end and asked soffice to quit
        try:
            try:
                run = subprocess.run([python, str(script), str(spec_file)], capture_output=True, env=_clean_env(),
                                     timeout=TIMEOUT + CONNECT_TIMEOUT, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(f"LibreOffice fill timed out\nstdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}") from None
            result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else None
            finished = result is not None
            out, err = run.stdout.decode(errors="replace"), run.stderr.decode(errors="replace")
            detail = f"exit {run.returncode}\nstdout:\n{out}\nstderr:\n{err}"
            assert result is not None, f"LibreOffice fill script gave no result\n{detail}"
            assert not result["errors"], "LibreOffice could not type into:\n  " + "\n  ".join(result["errors"])
            assert result["fatal"] is None, f"LibreOffice fill failed:\n{result['fatal']}\n{detail}"
            assert result["saved"] and dst.is_file() and dst.stat().st_size > 0, f"LibreOffice wrote no {dst}\n{detail}"
        finally:
            if _stop(office, grace=15 if finished else 0):
                _drop_profile(locale)
