"""What an import tells people, in Chinese and English: row errors and the summary.

Errors are kept as a code with parameters and put into words only when shown, so that the
command line speaks the operator's language and the JSON API can give both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]

# code → (English, Chinese). Parameters are str.format fields.
MESSAGES: dict[str, tuple[str, str]] = {
    "missing_value": ("required, but empty", "必填，但为空"),
    "missing_contact": (
        "no way to reach anyone: give a phone number (contact_phone) or a WeChat openid "
        "(contact_openid)",
        "无法联系：请填写联系电话（contact_phone）或微信 openid（contact_openid）"),
    "bad_phone": ("'{value}' is not a mainland mobile or landline number",
                  "“{value}”不是有效的大陆手机号或座机号"),
    "phone_shortened": (
        "'{value}' is a number Excel shortened: format the column as text and export again",
        "“{value}”是被 Excel 缩写的数字：请把该列设为文本格式后重新导出"),
    "bad_date": ("'{value}' is not a date: write e.g. 2026-11-03, 2026/11/3 9:05 or "
                 "2026年11月3日", "“{value}”不是日期：请写成 2026-11-03、2026/11/3 9:05 或 "
                 "2026年11月3日 等形式"),
    "no_such_day": ("'{value}': there is no such date or time", "“{value}”：没有这个日期或时间"),
    "bad_choice": ("'{value}' is not one of {allowed}", "“{value}”不是可用的值：{allowed}"),
    "too_long": ("longer than {limit} characters", "超过 {limit} 个字符"),
    "not_scalar": ("must be text or a number, not a list or object",
                   "应为文字或数字，不能是列表或对象"),
    "unstorable": ("contains control characters or invalid Unicode",
                   "含有控制字符或无效的 Unicode 字符"),
    "bad_year": ("the year must be between {low} and {high}", "年份应在 {low} 到 {high} 之间"),
    "duplicate_column": ("columns {names} all mean {field}: keep one of them",
                         "{names} 都表示“{field_zh}”：请只保留一列"),
    "missing_column": ("the header has no {field} column (e.g. {examples})",
                       "表头缺少“{field_zh}”列（例如 {examples}）"),
    "empty_file": ("the file is empty: the first row must be the header",
                   "文件是空的：第一行应是表头"),
    "extra_fields": ("more fields than the header has columns", "这一行的字段比表头多"),
    "undecodable": (
        "byte {offset} of the file ({bytes}) cannot be read as UTF-8, GB18030/GBK or UTF-16: "
        "save it from Excel as \"CSV UTF-8\" or as .xlsx",
        "文件第 {offset} 字节（{bytes}）无法按 UTF-8、GB18030/GBK 或 UTF-16 读取："
        "请在 Excel 中另存为“CSV UTF-8”或 .xlsx"),
    "bad_xlsx": ("not a readable .xlsx workbook: {detail}", "不是可读取的 .xlsx 工作簿：{detail}"),
    "not_object": ("each episode must be a JSON object", "每条记录必须是 JSON 对象"),
    "store_failed": ("could not be stored: {detail}", "无法保存：{detail}"),
}


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one input row (or the whole file, ``whole_file``) was refused.

    ``column`` is the column as the file or the request names it (``电话``), ``field`` the
    column it stands for (``contact_phone``).
    """

    line: int
    column: str
    code: str
    params: tuple[tuple[str, str], ...] = ()
    field: str = ""
    whole_file: bool = False

    @classmethod
    def of(cls, line: int, column: str, code: str, *, field: str = "",
           whole_file: bool = False, **params: object) -> RowError:
        """A row error with its parameters as keywords."""
        return cls(line, column, code, tuple((k, str(v)) for k, v in params.items()),
                   field or column, whole_file)

    def text(self, lang: Lang = "en") -> str:
        """The reason alone, in ``lang``."""
        en, zh = MESSAGES[self.code]
        return (zh if lang == "zh" else en).format_map({"field": self.field, **dict(self.params)})

    @property
    def message(self) -> str:
        """The reason in English (the JSON API's ``message``)."""
        return self.text("en")

    def describe(self, lang: Lang = "en") -> str:
        """``line 3 [电话]: reason`` / ``第 3 行 [电话]：reason``."""
        col = f" [{self.column}]" if self.column else ""
        if lang == "zh":
            where = f"第 {self.line} 行{col}：" if self.line else (f"{col.strip()}：" if col
                                                                  else "")
            return where + self.text("zh")
        where = f"line {self.line}{col}: " if self.line else (f"{col.strip()}: " if col
                                                             else "")
        return where + self.text("en")

    def __str__(self) -> str:
        return self.describe("en")


def language(environ: Mapping[str, str]) -> Lang:
    """The operator's language from the locale: English for an English (or other non-Chinese)
    locale, Chinese for a Chinese one and when nothing is set (C/POSIX), as the product is."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var, "").strip().lower()
        if value:
            if value.startswith("zh") or value.split(".")[0] in ("c", "posix"):
                return "zh"
            return "en"
    return "zh"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary_lines(*, name: str, encoding: str, sheet: str, created: int, updated: int,
                  unchanged: int, planned: int, refused: int, sampled_out: int | None,
                  file_refused: bool, header_line: int, ignored: list[str],
                  lang: Lang) -> list[str]:
    """The summary of one import, first line the counts, then notes (header, ignored columns)."""
    lines: list[str] = []
    if lang == "zh":
        how = (f"（按 {encoding} 读取）" if encoding else
               f"（工作表“{sheet}”）" if sheet else "")
        if file_refused:
            counts = "文件未导入，没有保存任何记录"
        else:
            counts = (f"新建 {created} 条，更新 {updated} 条，无变化 {unchanged} 条，"
                      f"安排回访 {planned} 次，{refused} 行有误未导入")
            if sampled_out is not None:
                counts += f"，{sampled_out} 条未抽中"
        lines.append(f"{name}{how}：{counts}")
        if header_line > 1:
            lines.append(f"表头在第 {header_line} 行，上方 {header_line - 1} 行已跳过")
        if ignored:
            lines.append(f"有 {len(ignored)} 列无法识别，已忽略：{'、'.join(ignored)}")
        return lines
    how = f", read as {encoding}" if encoding else f", sheet '{sheet}'" if sheet else ""
    if file_refused:
        counts = "file refused, nothing stored"
    else:
        counts = (f"{created} created, {updated} updated, {unchanged} unchanged, "
                  f"{_n(planned, 'check-in', 'check-ins')} planned, "
                  f"{_n(refused, 'row', 'rows')} refused")
        if sampled_out is not None:
            counts += f", {sampled_out} not sampled"
    lines.append(f"{name}{how}: {counts}")
    if header_line > 1:
        above = "the line above it was" if header_line == 2 else \
            f"the {header_line - 1} lines above it were"
        lines.append(f"header on line {header_line}; {above} skipped")
    if ignored:
        lines.append(f"{_n(len(ignored), 'column', 'columns')} not recognised and ignored: "
                     f"{', '.join(ignored)}")
    return lines


def fix_hint(lang: Lang, file_refused: bool) -> str:
    """What to do after errors."""
    if file_refused:
        return ("请按上面的说明修改文件后重新导入。" if lang == "zh" else
                "Fix the file as described above and import it again.")
    return ("请修正有误的行后重新导入整个文件：已导入的记录按就诊编号识别，不会重复。"
            if lang == "zh" else
            "Fix the refused rows and import the file again: rows already imported are "
            "recognised by external_id and not duplicated.")
