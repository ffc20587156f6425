"""Regenerate ``calendar.json`` from the ``chinesecalendar`` package (developer tool, not imported at run time).

Run: ``.venv/bin/python -m domain.data.generate_calendar`` after upgrading the package when the
State Council publishes the next year's holiday arrangement (each November).
"""

from __future__ import annotations

import json
from pathlib import Path

import chinese_calendar
from chinese_calendar import constants

_CHINESE = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def build() -> dict[str, object]:
    years = sorted({d.year for d in constants.holidays})
    return {
        "source": f"chinesecalendar {chinese_calendar.__version__}",
        "years": years,
        "holidays": {d.isoformat(): _CHINESE.get(h, h) for d, h in sorted(constants.holidays.items())},
        "workdays": {d.isoformat(): _CHINESE.get(h, h) for d, h in sorted(constants.workdays.items())},
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("calendar.json")
    out.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
