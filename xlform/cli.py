"""The `xlform` command. A thin veneer: each command is one call into the library."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .checks import catalogue
from .collect import check_paths, is_junk
from .errors import UserError
from .export import declaration_dict, dumps_json, to_csv
from .fileio import write_bytes_atomic
from .findings import SEVERITY_LABEL
from .model import Declaration, Identity
from .reader import Registry
from .review import result_json, result_text
from .sample import sample_declaration
from .template import DEFAULT_TEMPLATE, TemplateError, builtin_templates, load_template
from .writer import default_filename, write_workbook

app = typer.Typer(
    name="xlform",
    help="财政项目支出绩效目标申报表：生成、收集、审核、汇总。\n\n"
    "Performance-target declaration workbooks: generate, collect, check, summarise.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TemplateOpt = Annotated[
    str,
    typer.Option("-t", "--template", help="模板：内置编号或 YAML 文件路径 / built-in template id or YAML path."),
]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="输出文件 / output file.")]
YearOpt = Annotated[int | None, typer.Option("--year", help="预算年度，默认取模板 / budget year.", min=2000, max=2100)]
PasswordOpt = Annotated[
    str | None,
    typer.Option("--password", help="工作表保护密码（默认无密码）/ optional sheet-protection password."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"错误：{message}", err=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xlform {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="显示版本 / show version.")
    ] = False,
) -> None:
    """财政项目支出绩效目标申报表工具 / xlform."""


@app.command("templates")
def templates_cmd() -> None:
    """列出内置模板 / List the built-in templates."""
    typer.echo(f"{'编号 id':<16}{'年度':<6}{'金额单位':<6}{'指标体系':<10}名称")
    for t in builtin_templates():
        style = "财政部" if t.indicator_style == "mof" else "上海"
        typer.echo(f"{t.id:<16}{t.year:<8}{t.money_unit:<8}{style:<10}{t.title}（版本 {t.version}）")
        typer.echo(f"{'':<16}一级：{'、'.join(t.level1)}")


@app.command("new")
def new_cmd(
    template: TemplateOpt = DEFAULT_TEMPLATE,
    output: OutOpt = None,
    year: YearOpt = None,
    unit: Annotated[str, typer.Option("--unit", help="填报单位（预填并锁定）/ department, prefilled and locked.")] = "",
    password: PasswordOpt = None,
) -> None:
    """生成空白申报表 / Write a blank workbook."""
    t = load_template(template)
    identity = Identity(department=unit.strip())
    path = output or Path(default_filename(t, Identity(year=year or t.year, department=identity.department)))
    write_workbook(t, path, Declaration(identity=identity), year=year, password=password)
    typer.echo(f"已生成空白申报表：{path}")


@app.command("example")
def example_cmd(
    output: OutOpt = None,
    template: TemplateOpt = DEFAULT_TEMPLATE,
) -> None:
    """生成按真实样例填好的申报表 / Write the workbook filled with the real 2020 sample."""
    t = load_template(template)
    path = output or Path("示例_绩效目标申报表.xlsx")
    write_workbook(t, path, sample_declaration())
    typer.echo(f"已生成示例申报表（2020 年闵行区样例）：{path}")


def _inputs(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for every file below it (OS and Office temporary files aside),
    so a stray .xls or .ods in a folder is answered too, never skipped in silence."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and not is_junk(str(f.relative_to(p))))
        else:
            files.append(p)
    return files


def _extra_templates(templates: list[str] | None) -> list[str]:
    """The extra templates, loaded once here: one that does not load is a usage error before any file is read."""
    extra = list(templates or [])
    Registry(extra)
    return extra


class Format(StrEnum):
    text = "text"
    json = "json"


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


class Table(StrEnum):
    activities = "activities"
    indicators = "indicators"
    costs = "costs"
    guarantees = "guarantees"


TemplatesOpt = Annotated[
    list[str] | None,
    typer.Option("--template", "-t", help="另外认识的模板 YAML（可多次）/ extra template files the reader accepts."),
]


@app.command("check")
def check_cmd(
    files: Annotated[list[Path], typer.Argument(help="申报表文件或文件夹 / workbooks or folders.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="输出格式 / output format.")] = Format.text,
    templates: TemplatesOpt = None,
) -> None:
    """审核申报表：退出码 0 全部通过，1 有错误，2 有文件无法读取 / Check returned workbooks."""
    extra = _extra_templates(templates)
    paths = _inputs(files)
    if not paths:
        raise fail("没有找到要审核的 .xlsx 文件。")
    results = check_paths(paths, extra)
    if fmt is Format.json:
        typer.echo(dumps_json([result_json(r) for r in results]))
    else:
        for r in results:
            typer.echo(result_text(r))
            typer.echo("")
        unreadable = sum(not r.readable for r in results)
        with_errors = sum(r.readable and r.errors > 0 for r in results)
        typer.echo(f"合计：{len(results)} 个文件，{sum(r.ok for r in results)} 个通过，{with_errors} 个需修改，"
                   f"{unreadable} 个无法读取；共 {sum(r.errors for r in results)} 个错误，"
                   f"{sum(r.warnings for r in results)} 个提示。")
    if any(not r.readable for r in results):
        raise typer.Exit(2)
    if any(r.errors for r in results):
        raise typer.Exit(1)


@app.command("export")
def export_cmd(
    files: Annotated[list[Path], typer.Argument(help="申报表文件或文件夹 / workbooks or folders.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="json 或 csv")] = ExportFormat.json,
    table: Annotated[Table | None, typer.Option("--table", help="CSV：导出某张行表 / a row table as CSV.")] = None,
    output: OutOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """导出读取到的数据（JSON 或 CSV）/ Export the data as read."""
    extra = _extra_templates(templates)
    declarations = []
    failed = 0
    for r in check_paths(_inputs(files), extra):  # read in a worker, as check: a bad file costs only itself
        if r.declaration is None:
            typer.echo(f"无法读取 {r.file}：{r.error}", err=True)
            failed += 1
            continue
        declarations.append(r.declaration)
    if fmt is ExportFormat.json:
        text = dumps_json([declaration_dict(d) for d in declarations]) + "\n"
    else:
        text = to_csv(declarations, table.value if table else None)
    if output:
        # A BOM so Excel opens the CSV as UTF-8 rather than GBK.
        write_bytes_atomic(output, (("\ufeff" if fmt is ExportFormat.csv else "") + text).encode("utf-8"))
        typer.echo(f"已导出 {len(declarations)} 份到 {output}", err=True)
    else:
        typer.echo(text, nl=False)
    if failed:
        raise typer.Exit(2)


@app.command("rules")
def rules_cmd() -> None:
    """列出全部审核规则 / List the review rules."""
    for rule_id, severity, title, example in catalogue():
        typer.echo(f"{rule_id:<30}{SEVERITY_LABEL[severity]}  {title}。例：{example}")


@app.command("distribute")
def distribute_cmd(
    roster: Annotated[Path, typer.Argument(help="部门名单（.csv 或 .xlsx）/ roster of departments.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="输出文件夹 / output folder.")],
    template: TemplateOpt = DEFAULT_TEMPLATE,
    year: YearOpt = None,
) -> None:
    """按部门名单下发申报表（每部门每项目一份，预填并锁定部门）/ Issue one workbook per department."""
    from .distribute import distribute

    try:
        result = distribute(roster, output, load_template(template), year=year)
    except (UserError, TemplateError) as exc:
        raise fail(str(exc)) from None
    departments = len({i.department for i in result.issued})
    typer.echo(f"已为 {departments} 个部门生成 {len(result.issued)} 份申报表：{result.folder}")
    typer.echo(f"下发清单：{result.manifest}（汇总时可用 --manifest 核对未提交的部门）")
    rate = f"（每秒 {result.rate:.0f} 份）" if len(result.issued) >= 100 else ""
    typer.echo(f"用时 {result.seconds:.2f} 秒{rate}。")


class ReportFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"
    json = "json"


@app.command("report")
def report_cmd(
    inboxes: Annotated[list[Path], typer.Argument(help="收件文件夹（可多个，含子文件夹和 .zip）/ inbox folders.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="汇总报告文件 / report file.")],
    roster: Annotated[Path | None, typer.Option("--roster", help="部门名单：列出未提交的部门 / roster.")] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="下发清单（distribute 生成）/ manifest written by distribute.")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="收件记录库（SQLite），每天重跑只读新文件 / persistent store.")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="并行进程数，默认全部 CPU / worker processes.")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="xlsx、csv 或 json")] = ReportFormat.xlsx,
    templates: TemplatesOpt = None,
) -> None:
    """收集、审核并汇总交回的申报表：退出码 0 全部通过，1 有错误、无法读取或未提交，2 用法错误 / Build the summary."""
    from .report import make_report

    try:
        result = make_report(inboxes, output, roster=roster, manifest=manifest, db=db, jobs=jobs, fmt=fmt.value,
                             templates=list(templates or []))
    except (UserError, TemplateError) as exc:
        raise fail(str(exc)) from None
    typer.echo(result.closing_line())
    shown = "、".join(str(p) for p in result.outputs)
    typer.echo(f"报告：{shown}" + ("（内容未变，沿用上次生成的文件）" if result.reused_report else "")
               + f"；用时 {result.seconds:.1f} 秒。")
    raise typer.Exit(result.exit_code)


@app.command("demo")
def demo_cmd(
    outdir: Annotated[Path, typer.Argument(help="演示文件夹 / demo folder.")] = Path("xlform-demo"),
) -> None:
    """演示完整流程：名单 → 下发 → 交回（含常见错误）→ 汇总 / The whole job on built-in data."""
    from .demo import run_demo

    try:
        demo = run_demo(outdir)
    except (UserError, TemplateError) as exc:
        raise fail(str(exc)) from None
    for line in demo.lines():
        typer.echo(line)


def run() -> None:
    """Entry point: every known problem becomes one Chinese line and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into a silent exit code 130
            typer.echo("已中止（Ctrl-C）；已写出的文件保持完整。", err=True)
        sys.exit(code if isinstance(code, int) else 0)
    except (UserError, TemplateError) as exc:
        typer.echo(f"错误：{exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("已中止。", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("已中止（Ctrl-C）；已写出的文件保持完整。", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence before the user
        import click

        # typer ≥ 0.29 raises its own copy of click's exceptions; older ones raise click's.
        usage_errors = (click.ClickException, getattr(typer, "TyperException", click.ClickException))
        if isinstance(exc, usage_errors) and hasattr(exc, "format_message"):
            typer.echo(f"用法错误：{_in_chinese(exc.format_message())}（运行 xlform -h 或 xlform 命令 -h 查看帮助）",
                       err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        typer.echo(f"内部错误：{type(exc).__name__}: {exc}。请把这条信息和所用文件发给维护人员。", err=True)
        sys.exit(3)


_USAGE_WORDS = (
    ("Missing argument", "缺少参数"),
    ("Missing option", "缺少选项"),
    ("No such option", "没有这个选项"),
    ("No such command", "没有这个命令"),
    ("Invalid value for", "取值无效："),
    ("Got unexpected extra argument", "多出了参数"),
    ("requires an argument", "需要一个值"),
    ("Did you mean", "是不是要用"),
)


def _in_chinese(message: str) -> str:
    """click's usage messages, with their common phrases in Chinese (names and values stay as typed)."""
    for english, chinese in _USAGE_WORDS:
        message = message.replace(english, chinese)
    return message
