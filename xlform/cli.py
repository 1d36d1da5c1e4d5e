"""The `xlform` command. A thin veneer: each command is one call into the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import UserError
from .model import Declaration, Identity
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


def run() -> None:
    """Entry point: every known problem becomes one Chinese line and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
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
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        typer.echo(f"内部错误：{type(exc).__name__}: {exc}。请把这条信息和所用文件发给维护人员。", err=True)
        sys.exit(3)
