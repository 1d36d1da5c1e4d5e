"""The `xlform` command. A thin veneer: each command is one call into the library.

Built on the standard library's argparse, so every line the command prints — help, usage errors,
results — is ours and in Chinese, and a fresh install needs nothing beyond what pyproject.toml declares.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .errors import TemplateError, UserError
from .form.fields import FIELDS, TABLES
from .form.shipped import DEFAULT_TEMPLATE, builtin_ids
from .form.values import MAX_YEAR, MIN_YEAR

if TYPE_CHECKING:
    from .form.template import TemplateRef

WORKBOOK_SUFFIX = ".xlsx"


class UsageError(Exception):
    """What was typed is not a valid command line; printed as one Chinese line, exit 2."""


# ---- the parser, in Chinese ---------------------------------------------------------------

# argparse's own messages that can reach a user, as regular expressions over its English text.
_ARGPARSE_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (.*)", r"缺少参数：\1"),
    (r"argument 命令: invalid choice: '([^']*)' \(choose from (.*)\)", r"没有这个命令：\1（可用的命令：\2）"),
    (r"unrecognized arguments: (.*)", r"多出了参数：\1"),
    (r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", r"\1 不能取“\2”，可选：\3"),
    (r"argument (\S+): expected one argument", r"\1 后面需要一个值"),
    (r"argument (\S+): expected at least one argument", r"\1 后面至少需要一个值"),
    (r"argument (\S+): invalid \S+ value: '([^']*)'", r"\1 的值“\2”无效"),
    (r"argument (\S+): (.*)", r"\1：\2"),
    (r"ambiguous option: (\S+) could match (.*)", r"选项 \1 有歧义，可能是：\2"),
    (r"argument (\S+): not allowed with argument (.*)", r"\1 不能与 \2 同时使用"),
    (r"argument (\S+): ignored explicit argument '([^']*)'", r"\1 不接受值（多出了“\2”）"),
)


def _in_chinese(message: str) -> str:
    for pattern, replacement in _ARGPARSE_MESSAGES:
        translated, n = re.subn(f"^{pattern}$", replacement, message, flags=re.S)
        if n:
            return translated.replace("'", "")
    return message


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)

    def _format_action(self, action: argparse.Action) -> str:
        # The command list: its own heading says 命令, so no extra line with the metavar above the commands.
        text = super()._format_action(action)
        if isinstance(action, argparse._SubParsersAction):
            text = text.split("\n", 1)[1]
        return text


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助并退出")

    def error(self, message: str) -> NoReturn:
        raise UsageError(_in_chinese(message))


def _year(text: str) -> int:
    low, high = MIN_YEAR, MAX_YEAR
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"年度应为数字，如 2026（现为“{text}”）") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"年度应在 {low} 到 {high} 之间（现为 {value}）")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"应为正整数（现为“{text}”）") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"应不小于 1（现为 {value}）")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise argparse.ArgumentTypeError(f"不能取“{text}”，可选：{'、'.join(options)}")
        return text

    return parse


def _template_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--template", default=DEFAULT_TEMPLATE, metavar="模板",
                   help=f"内置模板编号或 YAML 文件路径（默认 {DEFAULT_TEMPLATE}）/ built-in template id or YAML path")


def _extra_templates_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--template", dest="templates", action="append", default=[], metavar="模板",
                   help="另外认识的模板 YAML（可多次）/ extra template files the reader accepts")


def _jobs_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--jobs", type=_positive, metavar="进程数", help="并行进程数，默认全部 CPU")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xlform",
        description="财政项目支出绩效目标申报表：生成、下发、收集、审核、汇总。\n"
                    "Performance-target declaration workbooks: generate, collect, check, summarise.",
        epilog="每个命令的用法：xlform 命令 -h",
    )
    parser.add_argument("--version", action="version", version=f"xlform {__version__}", help="显示版本 / show version")
    commands = parser.add_subparsers(dest="command", title="命令", metavar="命令", parser_class=_Parser)

    def command(name: str, summary: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=summary, description=summary)
        p.set_defaults(run=run)
        return p

    command("templates", "列出内置模板 / list the built-in templates", _templates)

    p = command("new", "生成空白申报表 / write a blank workbook", _new)
    _template_opt(p)
    p.add_argument("-o", "--output", type=Path, metavar="文件", help="输出的 .xlsx 文件（默认按年度和单位命名）")
    p.add_argument("--year", type=_year, metavar="年度", help="预算年度，默认取模板 / budget year")
    p.add_argument("--unit", default="", metavar="单位", help="填报单位（预填并锁定）/ department, prefilled and locked")
    p.add_argument("--password", metavar="密码", help="工作表保护密码（默认无密码）/ optional sheet-protection password")

    p = command("example", "生成按 2020 年真实样例填好的申报表 / the workbook filled with the real sample", _example)
    p.add_argument("-o", "--output", type=Path, metavar="文件", help="输出的 .xlsx 文件")
    _template_opt(p)

    p = command("check", "审核申报表：退出码 0 全部通过，1 有错误，2 有文件无法读取 / check returned workbooks", _check)
    p.add_argument("files", nargs="+", type=Path, metavar="文件或文件夹", help="申报表、文件夹或邮件附件 .zip")
    p.add_argument("-f", "--format", dest="fmt", type=_choice("text", "json"), default="text", metavar="格式",
                   help="输出格式：text（默认）或 json")
    _round_templates_opts(p)
    _jobs_opt(p)

    p = command("export", "导出读取到的数据（JSON 或 CSV）/ export the data as read", _export)
    p.add_argument("files", nargs="+", type=Path, metavar="文件或文件夹", help="申报表、文件夹或邮件附件 .zip")
    p.add_argument("-f", "--format", dest="fmt", type=_choice("json", "csv"), default="json", metavar="格式",
                   help="json（默认）或 csv")
    p.add_argument("--table", metavar="表",
                   help=f"只导出一张行表：{'、'.join(TABLES)}，或模板新增的行表（JSON 或 CSV）")
    p.add_argument("-o", "--output", type=Path, metavar="文件", help="输出文件（默认打印出来）")
    _round_templates_opts(p)
    _jobs_opt(p)

    p = command("rules", "列出审核规则；-t 给出模板时标明哪些适用 / list the review rules", _rules)
    p.add_argument("-t", "--template", metavar="模板", help="内置模板编号或 YAML 文件：只看对它适用的规则")

    p = command("template", "复制、检查模板 / copy or check a template", _template_help)
    steps = p.add_subparsers(dest="action", title="子命令", metavar="子命令", parser_class=_Parser)
    q = steps.add_parser("copy", help="复制内置模板作为本局模板的起点（逐项带注释）/ copy a built-in template",
                         description="复制内置模板作为本局模板的起点（逐项带注释）")
    q.add_argument("source", type=_choice(*builtin_ids()), metavar="模板编号",
                   help=f"内置模板：{'、'.join(builtin_ids())}")
    q.add_argument("-o", "--output", type=Path, required=True, metavar="文件", help="写出的 YAML 文件（不覆盖已有文件）")
    q.set_defaults(run=_template_copy)
    q = steps.add_parser("check", help="检查模板：一次列出全部问题 / check a template, every problem at once",
                         description="检查模板：一次列出全部问题；退出码 0 可用，1 有问题")
    q.add_argument("file", type=Path, metavar="模板文件", help="模板 YAML 文件（或内置模板编号）")
    q.set_defaults(run=_template_check)

    p = command("distribute", "按部门名单下发申报表（每部门每项目一份）/ issue one workbook per department", _distribute)
    p.add_argument("roster", type=Path, metavar="部门名单", help="部门名单（.csv 或 .xlsx）")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="文件夹", help="输出文件夹")
    _template_opt(p)
    p.add_argument("--year", type=_year, metavar="年度", help="预算年度，默认取模板")
    p.add_argument("--carry-over", type=Path, metavar="上年记录库",
                   help="上年的收件记录库（report --db）：各部门上年的项目预填进今年的表（复制上年）")
    p.add_argument("--append", action="store_true",
                   help="追加下发：只为名单中新增的部门（和新增的项目）生成，已下发的表和清单中原有的行保持不变")

    p = command("report", "收集、审核并汇总交回的申报表：退出码 0 全部通过，1 有错误、无法读取或未提交 / build the summary",
                _report)
    p.add_argument("inboxes", nargs="+", type=Path, metavar="收件文件夹", help="收件文件夹（可多个，含子文件夹和 .zip）")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="文件", help="汇总报告文件")
    p.add_argument("--roster", type=Path, metavar="部门名单",
                   help="部门名单：列出未提交的部门（与 --manifest、--feedback 同用时只取邮箱列作收件人）")
    p.add_argument("--manifest", type=Path, action="append", default=[], metavar="下发清单",
                   help="下发清单（distribute 生成的文件夹或 CSV；可多次，如补发的另一个文件夹）")
    p.add_argument("--db", type=Path, metavar="记录库", help="收件记录库（SQLite），每天重跑只读新文件")
    _jobs_opt(p)
    p.add_argument("-f", "--format", dest="fmt", type=_choice("xlsx", "csv", "json"), default="xlsx", metavar="格式",
                   help="xlsx（默认）、csv 或 json")
    _extra_templates_opt(p)
    p.add_argument("--feedback", type=Path, metavar="文件夹",
                   help="汇总后为需修改、退回修改的表写退回修改包（需 --db；同 xlform feedback）")
    _feedback_opts(p)

    p = command("feedback", "为需修改或退回修改的表生成退回修改包、审核意见和邮件；退出码 0 应退回的都已写出，1 有写不出的"
                "（原件已不在原处或被改动） / return packages per department",
                _feedback)
    p.add_argument("--db", type=Path, required=True, metavar="记录库", help="收件记录库（report --db 建立）")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="文件夹", help="输出文件夹")
    p.add_argument("--roster", type=Path, metavar="部门名单", help="部门名单：邮箱列（邮箱 / 电子邮箱 / E-mail）用作收件人")
    _feedback_opts(p)
    _extra_templates_opt(p)

    _review_parser(command)
    _status_parser(command)
    _remind_parser(command)

    p = command("demo", "演示完整流程：名单 → 下发 → 交回（含常见错误）→ 汇总 / the whole job on built-in data", _demo)
    p.add_argument("outdir", nargs="?", type=Path, default=Path("xlform-demo"), metavar="文件夹",
                   help="演示文件夹（默认 xlform-demo）")
    _template_opt(p)
    return parser


def _feedback_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--eml", action="store_true", help="每个部门另写一封可直接发送的邮件（.eml，附退回修改包）")
    p.add_argument("--from", dest="sender", default="", metavar="发件人", help="邮件的发件人地址（默认留空，由邮件程序填）")


# ---- the commands ---------------------------------------------------------------------------


def _out(text: str = "") -> None:
    print(text)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def workbook_output(path: Path) -> Path:
    """Where `new` and `example` write: a folder is refused, a missing .xlsx is added, another suffix is refused."""
    if path.is_dir():
        raise UserError(f"“{path}”是一个文件夹；请用 -o 给出文件名，例如 -o {path / ('申报表' + WORKBOOK_SUFFIX)}")
    suffix = path.suffix.lower()
    if suffix == WORKBOOK_SUFFIX:
        return path
    if suffix and suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6:
        raise UserError(f"申报表只能保存为 Excel 工作簿（{WORKBOOK_SUFFIX}），不能写成“{path.name}”；"
                        f"请改为 {path.with_suffix(WORKBOOK_SUFFIX).name}")
    return path.with_name(path.name + WORKBOOK_SUFFIX)


def _templates(_: argparse.Namespace) -> int:
    from .form.template import builtin_templates

    _out(f"{'编号 id':<16}{'年度':<6}{'金额单位':<6}{'指标体系':<10}名称")
    for t in builtin_templates():
        style = "财政部" if t.indicator_style == "mof" else "上海"
        _out(f"{t.id:<16}{t.year:<8}{t.money_unit:<8}{style:<10}{t.title}（版本 {t.version}）")
        _out(f"{'':<16}一级：{'、'.join(t.level1)}")
    return 0


def _new(a: argparse.Namespace) -> int:
    from .form.model import Declaration, Identity
    from .form.template import load_template
    from .writing.workbook import default_filename, write_workbook

    t = load_template(a.template)
    if a.password is not None and len(a.password) > 255:
        raise UsageError(f"--password 过长（{len(a.password)} 字）：Excel 的工作表保护密码最多 255 字")
    unit = a.unit.strip()
    path = workbook_output(a.output or Path(default_filename(t, Identity(year=a.year or t.year, department=unit))))
    write_workbook(t, path, Declaration(identity=Identity(department=unit)), year=a.year, password=a.password)
    _out(f"已生成空白申报表：{path}")
    return 0


def _example(a: argparse.Namespace) -> int:
    from .form.sample import example_declaration
    from .form.template import load_template
    from .writing.workbook import write_workbook

    t = load_template(a.template)
    path = workbook_output(a.output or Path("示例_绩效目标申报表.xlsx"))
    write_workbook(t, path, example_declaration(t))
    own = f"，按模板 {t.id} 的示例值填写" if t.example else ""
    _out(f"已生成示例申报表（2020 年闵行区样例{own}）：{path}")
    return 0


def _extra_templates(templates: list[str]) -> list[str]:
    """The extra templates, loaded once here: one that does not load is a usage error before any file is read."""
    from .reading.reader import Registry

    Registry(templates)
    return templates


def _round_templates_opts(p: argparse.ArgumentParser) -> None:
    """Where check and export find a round's own templates, as report does: -t, the round's folders, the store."""
    _extra_templates_opt(p)
    p.add_argument("--manifest", type=Path, action="append", default=[], metavar="下发清单",
                   help="下发文件夹或下发清单（可多次）：用下发时保存的模板读取 / the round's folders: their template copies")
    p.add_argument("--db", type=Path, metavar="记录库",
                   help="收件记录库：用其中记下的模板读取（只读）/ the store's recorded templates (read only)")


def _round_templates(a: argparse.Namespace) -> list[TemplateRef]:
    """Where check finds a round's templates: those a store recorded (read only), the manifest's copy, then -t."""
    found: list[TemplateRef] = []
    # Each imported only when asked for: together a sixth of what `check` imports before it reads a file.
    if a.db:
        from .store import recorded_templates

        found += recorded_templates(a.db)
    if a.manifest:
        from .issue.distribute import manifest_templates

        found += [t for m in a.manifest for t in manifest_templates(m)]
    return [*found, *_extra_templates(a.templates)]


def _check(a: argparse.Namespace) -> int:
    from .collect.workers import checked_paths
    from .reading import refusals as R
    from .review.result import json_list, shown_json, shown_text

    shown = checked_paths(a.files, shown_json if a.fmt == "json" else shown_text, _round_templates(a), jobs=a.jobs)
    results = [r for r in shown if not r.ignored]
    ignored: dict[str, int] = {}
    for r in shown:
        if r.ignored:
            ignored[r.code] = ignored.get(r.code, 0) + 1
            if a.fmt == "json":  # the JSON lists the files checked; what was passed over is said beside it
                _err(f"{r.file}：{r.error}")
    passed_over = f"{sum(ignored.values())} 个已忽略（{R.counted(ignored)}）" if ignored else ""
    if not results:
        if a.fmt != "json":
            for r in shown:
                _out(r.text)
        raise UserError("没有找到要审核的 .xlsx 文件" + (f"：{passed_over}" if passed_over else "") + "。")
    if a.fmt == "json":
        _out(json_list(results))
    else:
        for r in shown:
            _out(r.text)
            _out()
        unreadable = sum(not r.readable for r in results)
        with_errors = sum(r.readable and r.errors > 0 for r in results)
        codes: dict[str, int] = {}
        for r in results:
            if not r.readable:
                codes[r.code] = codes.get(r.code, 0) + 1
        why = f"（{R.counted(codes)}）" if codes else ""
        _out(f"合计：{len(results)} 个文件，{sum(r.ok for r in results)} 个通过，{with_errors} 个需修改，"
             f"{unreadable} 个无法读取{why}；共 {sum(r.errors for r in results)} 个错误，"
             f"{sum(r.warnings for r in results)} 个提示" + (f"；另有 {passed_over}" if passed_over else "") + "。")
        if R.hint(codes):
            _out(R.hint(codes))
    if any(not r.readable for r in results):
        return 2
    return 1 if any(r.errors for r in results) else 0


def _export(a: argparse.Namespace) -> int:
    import functools

    from .collect.workers import checked_paths
    from .export import dumps_json, flat_csv, flat_dicts
    from .fileio import refuse_overwriting_inputs, write_bytes_atomic
    from .review.result import json_list, shown_export, shown_flat

    if a.output:
        read = [(f, "文件夹" if f.is_dir() else "申报表") for f in a.files] + [(Path(t), "模板") for t in a.templates]
        read += [(m, "下发文件夹" if m.is_dir() else "下发清单") for m in a.manifest] + ([(a.db, "收件记录库")] if a.db else [])
        refuse_overwriting_inputs([(a.output, "导出文件")], read)
    if a.output and a.output.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".et"):
        raise UsageError(f"导出文件 {a.output.name} 是表格文件的扩展名，但写出的是 {a.fmt.upper()}；"
                         f"请改为 {a.output.with_suffix('.' + a.fmt).name}")
    templates = _round_templates(a)
    if a.table:
        _known_table(a.table, templates)
    # Each file's object (plain JSON), or its rows (CSV, --table), made in the worker that read it: only that comes
    # back. The rows' columns are those of every template among the files, joined here.
    flat = a.fmt == "csv" or bool(a.table)
    render = functools.partial(shown_flat, table=a.table, for_csv=a.fmt == "csv") if flat else shown_export
    results = []
    for r in checked_paths(a.files, render, templates, jobs=a.jobs):  # read in workers: a bad file costs only itself
        if r.ignored:
            _err(f"{r.file}：{r.error}")
            continue
        if not r.readable:
            _err(f"无法读取 {r.file}：{r.error}")
        results.append(r)
    failed = sum(not r.readable for r in results)
    exported = len(results) - failed
    flats = [r.flat for r in results if r.flat is not None]
    if not flat:
        text = json_list([r for r in results if r.readable]) + "\n"
    elif a.fmt == "json":
        text = dumps_json(flat_dicts(flats, a.table)) + "\n"
    else:
        text = flat_csv(flats, a.table)
    if a.output:
        # A BOM so Excel opens the CSV as UTF-8 rather than GBK.
        write_bytes_atomic(a.output, (("\ufeff" if a.fmt == "csv" else "") + text).encode("utf-8"))
        _err(f"已导出 {exported} 份到 {a.output}")
    else:
        sys.stdout.write(text)
    return 2 if failed else 0


def _known_table(table: str, templates: list[TemplateRef]) -> None:
    """`--table` names a built-in table or one a known template adds; else a usage error listing them."""
    from .export import known_tables
    from .reading.reader import Registry

    known = known_tables(Registry(templates).templates.values())
    if table not in known:
        options = "、".join(k if label == k else f"{k}（{label}）" for k, label in known.items())
        raise UsageError(f"--table 不能取“{table}”：所用模板中没有这张行表，可选：{options}")


def _rules(a: argparse.Namespace) -> int:
    from .form.template import load_template
    from .review.findings import SEVERITY_LABEL
    from .review.rules import CATALOGUE

    template = load_template(a.template) if a.template else None
    ids = [*CATALOGUE, *(b.id for b in (template.bureau_rules if template else ()))]
    width = max(map(len, ids)) + 2  # the id column as wide as the longest id, and two spaces after it
    skipped = 0
    for r in CATALOGUE.values():
        setting = template.rule_settings.get(r.id) if template is not None else None
        severity = (setting.severity if setting and setting.severity else r.severity)
        line = f"{r.id:<{width}}{SEVERITY_LABEL[severity]}  {r.title}。例：{r.example}"
        if template is not None and not r.applies(template):
            if setting is not None and not setting.enabled:
                line = f"{r.id:<{width}}不适用  {r.title}（模板 {template.id} 关闭了这条规则）"
            else:
                missing = "、".join(k for k in r.needs if not template.has(k))
                line = f"{r.id:<{width}}不适用  {r.title}（模板 {template.id} 没有字段：{missing}）"
            skipped += 1
        elif setting is not None and (setting.severity or setting.params != dict(r.params)):
            changed = [f"严重程度改为{SEVERITY_LABEL[setting.severity]}"] if setting.severity else []
            changed += [f"{k} = {v}" for k, v in setting.params.items() if v != dict(r.params).get(k)]
            line += f"（本模板：{'，'.join(changed)}）" if changed else ""
        _out(line)
    if template is None:
        return 0
    for b in template.bureau_rules:
        when = f"；适用于：{b.when.text}" if b.when is not None else ""
        live = "，填写时自动校验" if b.live else ""
        _out(f"{b.id:<{width}}{SEVERITY_LABEL[b.severity]}  {b.title}。条件：{b.check.text}{when}{live}")
    _out(f"模板 {template.id}：内置规则适用 {len(CATALOGUE) - skipped} 条，不适用 {skipped} 条；"
         f"本模板自定义规则 {len(template.bureau_rules)} 条。")
    return 0


def _template_help(a: argparse.Namespace) -> int:
    raise UsageError("请写明子命令：xlform template copy 模板编号 -o 文件，或 xlform template check 文件")


def _template_copy(a: argparse.Namespace) -> int:
    from .fileio import write_bytes_atomic
    from .form.template_guide import commented_copy, new_id

    out: Path = a.output
    if out.is_dir():
        raise UserError(f"“{out}”是一个文件夹；请用 -o 给出文件名，例如 -o {out / (a.source + '-本局.yaml')}")
    if out.suffix.lower() not in (".yaml", ".yml"):
        out = out.with_suffix(out.suffix + ".yaml") if out.suffix else out.with_suffix(".yaml")
    if out.exists():
        raise UserError(f"{out} 已存在，不会覆盖；请换一个文件名。")
    copy_id = new_id(a.source, out.stem)
    write_bytes_atomic(out, commented_copy(a.source, copy_id).encode("utf-8"))
    _out(f"已复制内置模板 {a.source} 到 {out}（模板编号 {copy_id}）。")
    _out(f"改完后检查：xlform template check {out}；生成空白表：xlform new -t {out}")
    return 0


def _template_check(a: argparse.Namespace) -> int:
    from .form.template import load_template
    from .review.rules import CATALOGUE

    try:
        t = load_template(a.file)
    except TemplateError as exc:
        for problem in exc.shown():
            _out(problem)
        _out(f"共 {len(exc.problems)} 个问题；改正后再运行 xlform template check {a.file}。")
        return 1
    added = [f"{t.labels[f.key]}（{f.key}，{f.kind.value}）" for f in t.fields if not f.builtin]
    dropped = [f.key for f in FIELDS if not t.has(f.key)]
    _out(f"模板 {t.id}（版本 {t.version}）可以使用：项目总体情况 {len(t.fields)} 个字段，行表 {len(t.tables)} 张。")
    if added:
        _out(f"新增字段：{'、'.join(added)}")
    if dropped:
        _out(f"去掉的内置字段：{'、'.join(dropped)}")
    for key in t.added_tables:
        _out(f"新增行表：{t.labels[key]}（{key}，{t.rows[key]} 行，列：{'、'.join(t.columns[key].values())}）")
    for table in TABLES:
        extra = [t.columns[table][k] for k, c in t.column_defs[table].items() if not c.builtin]
        if extra:
            _out(f"{t.labels[table]}新增列：{'、'.join(extra)}")
    if t.library is not None:
        _out(f"指标库：{len(t.library.indicators)} 个指标（{'、'.join(t.library.files)}）")
    applicable = sum(1 for r in CATALOGUE.values() if r.applies(t))
    own = f"，本模板自定义规则 {len(t.bureau_rules)} 条" if t.bureau_rules else ""
    _out(f"适用的内置审核规则 {applicable} 条{own}（xlform rules -t {a.file} 查看）。")
    return 0


def _distribute(a: argparse.Namespace) -> int:
    from .form.template import load_template
    from .issue.distribute import distribute

    result = distribute(a.roster, a.output, load_template(a.template), year=a.year, carry_over=a.carry_over,
                        append=a.append)
    departments = len({i.department for i in result.issued})
    if a.append:
        _out(f"追加下发：原有 {result.kept} 份（表和清单中的行）保持不变，新增 {len(result.issued)} 份。")
        if not result.issued:
            _out("名单中的部门和项目都已下发过，没有写出任何文件。")
            return 0
    _out(f"已为 {departments} 个部门生成 {len(result.issued)} 份申报表：{result.folder}")
    if a.carry_over is not None:
        carried = [i for i in result.issued if i.carried_from]
        _out(f"复制上年：{len(carried)} 份预填了上年的项目（下发清单的“上年表单编号”“上年匹配”两列）。")
        for note in result.carry_notes:
            _out(f"  {note}")
    _out(f"下发清单：{result.manifest}（汇总时可用 --manifest 核对未提交的部门）")
    if result.template_copy is not None:
        _out(f"下发模板：{result.template_copy}（下发时所用模板的原样副本；汇总、审核时用 --manifest {result.folder} "
             "即可读取，不必再用 -t）")
    rate = f"（每秒 {result.rate:.0f} 份）" if len(result.issued) >= 100 else ""
    _out(f"用时 {result.seconds:.2f} 秒{rate}。")
    return 0


def _report(a: argparse.Namespace) -> int:
    from .report.run import make_report

    if a.feedback is not None and a.db is None:
        raise UsageError("--feedback 需要同时给出 --db（退回修改包按收件记录库中的版本生成）")
    if a.feedback is None and (a.eml or a.sender):
        raise UsageError("--eml 和 --from 是写退回修改包时的选项，需要同时给出 --feedback 文件夹")
    # With --manifest saying who is expected, a roster given with --feedback only addresses the mails (its 邮箱).
    roster = None if a.manifest and a.feedback is not None else a.roster
    result = make_report(a.inboxes, a.output, roster=roster, manifest=a.manifest, db=a.db, jobs=a.jobs, fmt=a.fmt,
                         templates=a.templates)
    for line in result.notices:  # 未作修改, 一表多用: said before the totals
        _out(line)
    _out(result.closing_line())
    shown = "、".join(str(p) for p in result.outputs)
    _out(f"报告：{shown}" + ("（内容未变，沿用上次生成的文件）" if result.reused_report else "")
         + f"；用时 {result.seconds:.1f} 秒。")
    if a.feedback is not None:
        _write_feedback(a, a.feedback, a.inboxes)
    _report_to_act(result, a.db)
    return result.exit_code


def _feedback(a: argparse.Namespace) -> int:
    result = _write_feedback(a, a.output, [])
    return 1 if result.not_sent else 0  # a package due that could not be written: someone must find the file


def _write_feedback(a: argparse.Namespace, outdir: Path, inboxes: list[Path]) -> Any:
    from .issue.distribute import manifest_templates
    from .issue.feedback import write_feedback

    templates: list[TemplateRef] = [*(t for m in getattr(a, "manifest", None) or [] for t in manifest_templates(m)),
                                    *_extra_templates(a.templates)]
    result = write_feedback(a.db, outdir, eml=a.eml, roster=a.roster, templates=templates, sender=a.sender,
                            inboxes=inboxes)
    for line in result.lines():
        _out(line)
    return result


def _report_to_act(result: Any, db: Path | None) -> None:
    """The short list of who must act, at the end of a report (the whole of it: xlform remind)."""
    from .report.standing import summary_lines

    for line in summary_lines(result.to_act, db):
        _out(line)


Command = Callable[[str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser]


def _review_parser(command: Command) -> None:
    p = command("review", "读回审核结论：汇总报告“审核”表中填写的结论记入记录库；退出码 0 全部记录，1 有被拒绝的，"
                "2 文件不可用 / read the decisions typed into the report", _review)
    p.add_argument("report", type=Path, metavar="汇总报告", help="填好审核结论并保存的汇总报告 .xlsx")
    p.add_argument("--db", type=Path, required=True, metavar="记录库", help="生成该报告时所用的收件记录库")


def _review(a: argparse.Namespace) -> int:
    from .report.readback import read_review

    result = read_review(a.report, a.db)
    for line in result.lines():
        _out(line)
    return result.exit_code


def _status_parser(command: Command) -> None:
    p = command("status", "每份申报表的状态（未提交、待审核、已退回……）/ where each form stands", _status)
    p.add_argument("--db", type=Path, required=True, metavar="记录库", help="收件记录库（xlform report --db 建立）")
    p.add_argument("-f", "--format", dest="fmt", type=_choice("text", "json"), default="text", metavar="格式",
                   help="输出格式：text（默认）或 json")


def _status(a: argparse.Namespace) -> int:
    from .report.standing import standing, status_json, status_text

    s = standing(a.db)
    if a.fmt == "json":
        from .export import dumps_json

        _out(dumps_json(status_json(s)))
    else:
        for line in status_text(s):
            _out(line)
    return 0


def _date(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应写成 2026-03-10 这样（现为“{text}”）") from None


def _remind_parser(command: Command) -> None:
    p = command("remind", "催报：列出要补交、重交的部门，附联系人和可直接发送的提醒文字 / who must act", _remind)
    p.add_argument("--db", type=Path, required=True, metavar="记录库", help="收件记录库（xlform report --db 建立）")
    p.add_argument("--deadline", type=_date, metavar="日期", help="截止日期，如 2026-03-10（写进提醒文字）")
    p.add_argument("-o", "--output", type=Path, metavar="文件", help="另存为可打印的催报表 .xlsx")


def _remind(a: argparse.Namespace) -> int:
    from .report.standing import check_reminders_output, remind, reminder_text, write_reminders

    if a.output is not None:
        check_reminders_output(a.output, a.db)  # before the reminders are printed, not after
    _, chases = remind(a.db, a.deadline)
    if not chases:
        _out("没有需要催报的部门：各部门的申报表都已交齐，且没有待修改或已退回的。")
    for chase in chases:
        _out(reminder_text(chase, a.deadline))
        _out()
    if a.output is not None:
        write_reminders(chases, a.deadline, a.output, a.db)
        _out(f"催报表：{a.output}（{len(chases)} 个部门）")
    elif chases:
        _out(f"共 {len(chases)} 个部门需催报。")
    return 0


def _demo(a: argparse.Namespace) -> int:
    from .demo import run_demo

    for line in run_demo(a.outdir, a.template).lines():
        _out(line)
    return 0


# ---- the entry point ------------------------------------------------------------------------

INTERRUPTED = "已中止（Ctrl-C）；已写出的文件保持完整。"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line and return its exit code: every known problem is one Chinese line and
    exit code 2 (usage errors included), never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a file name that is not valid text must not end the command
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    parser = build_parser()
    try:
        if not args:
            parser.print_help()
            return 0
        namespace = parser.parse_args(args)
        if namespace.command is None:
            parser.print_help()
            return 0
        code: int = namespace.run(namespace)
        sys.stdout.flush()  # a full disk or a closed terminal shows here, inside the handlers below
        return code
    except SystemExit as exc:  # -h and --version end here, after printing
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        _err(f"用法错误：{exc}（运行 xlform -h 或 xlform 命令 -h 查看帮助）")
        return 2
    except TemplateError as exc:
        _err("错误：" + "\n".join(exc.shown()))
        return 2
    except UserError as exc:
        _err(f"错误：{exc}")
        return 2
    except KeyboardInterrupt:
        _err(INTERRUPTED)
        return 130
    except BrokenPipeError:
        # The reader of the output stopped (`| head`): nothing is wrong, and no one is left to tell. Point stdout
        # at nothing so the interpreter's last flush does not fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it
    except OSError as exc:  # the system refused a path or a write that no command foresaw: say which, and why
        from .collect.inbox import shown_name
        from .fileio import os_reason

        where = f"{shown_name(os.fsdecode(exc.filename))}：" if exc.filename else "写出结果时："
        _err(f"错误：{where}{os_reason(exc)}。")
        with contextlib.suppress(OSError, ValueError):  # stdout may be what failed: the last flush must not
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence before the user
        _err(f"内部错误：{type(exc).__name__}: {exc}。请把这条信息和所用文件发给维护人员。")
        return 3


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
