"""Input hygiene for names and free text that staff type and that are shown back to people.

What a clerk types ends up in events (kept for ever), on terminals, in pages and in reports, so
it is refused at the door when it holds anything that is not visible text: control characters
(an ANSI escape recolours a terminal), bidirectional overrides (they reverse what a reader sees),
zero-width characters (two names that look the same would differ). Lengths are limited per field
(documented in docs/data-formats.md). Text is normalised to NFC and stripped of outer spaces.

Case numbers follow a pattern, so that they are safe in file names, URLs and workflow ids.
"""

from __future__ import annotations

import re
import unicodedata

from domain.errors import InvalidValue, MissingField

# Bidirectional controls (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM) and
# zero-width or invisible formatting characters (ZWSP, ZWNJ, ZWJ, WJ, BOM, soft hyphen, …).
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_INVISIBLE = set("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e")

LIMITS = {
    "applicant": 100,
    "reason": 500,
    "note": 500,
    "material": 100,
    "name": 100,
}
CASE_NO_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
CASE_NO_RULE = "1–64 位英文字母、数字或连字符（-），以字母或数字开头"


def _offence(ch: str) -> str | None:
    if ch in _BIDI:
        return "文字方向控制字符"
    if ch in _INVISIBLE:
        return "零宽或不可见字符"
    if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
        return "控制字符"
    if unicodedata.category(ch) in ("Zl", "Zp"):
        return "换行类字符"
    return None


def clean(value: str, *, field: str, label: str, limit: str | None = None, required: bool = True) -> str:
    """NFC, stripped, and free of anything invisible; raises with a Chinese message naming the field."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        if required:
            raise MissingField(f"缺少{label}", field=field)
        return ""
    for i, ch in enumerate(text):
        kind = _offence(ch)
        if kind:
            raise InvalidValue(
                f"{label}含有{kind}（第 {i + 1} 个字符，U+{ord(ch):04X}），请删除后重新输入",
                field=field,
                codepoint=f"U+{ord(ch):04X}",
            )
    maximum = LIMITS[limit or field]
    if len(text) > maximum:
        raise InvalidValue(f"{label}过长（{len(text)} 字），最多 {maximum} 字", field=field, limit=maximum)
    return text


def normalise(value: str) -> str:
    """What ``clean`` would keep, without judging: used where a request is built before it is checked."""
    return unicodedata.normalize("NFC", value or "").strip()


def check_case_no(value: str) -> str:
    if not value:
        raise MissingField("缺少办件编号", field="case_no")
    if not CASE_NO_PATTERN.fullmatch(value):
        raise InvalidValue(f"办件编号「{printable(value)}」无效：应为{CASE_NO_RULE}", field="case_no")
    return value


def printable(value: str) -> str:
    """Anything echoed back to people: every invisible or control character shown as ``\\uXXXX``."""
    return "".join(f"\\u{ord(ch):04x}" if _offence(ch) else ch for ch in value)
