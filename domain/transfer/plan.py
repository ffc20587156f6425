"""Transfer plan files (划转方案): the whole programme in one CSV or YAML file.

A plan names the programme (code, bureau, region, decision document, trial window), its batches
(number, name, planned cut-over moment, gating milestones) and its items (catalogue code, name,
origin department, legal basis, batch, personnel who move). The format is documented in
docs/data-formats.md ("Transfer plan files").

Parsing never stops at the first problem: every bad value is collected with its line number and
field name, and a file with any error is refused whole (``PlanInvalid``). A valid plan carries a
content hash over its normalised content (not its layout), so loading the same plan twice is a
no-op and a different plan under the same code is refused (``TransferProgramme.check_reload``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from domain.calendar import SHANGHAI, to_local
from domain.catalogue import Catalogue, Level, MatterKind
from domain.staff import StaffDirectory
from domain.transfer.errors import PlanInvalid
from domain.transfer.item import Person
from domain.transfer.programme import ALL_MILESTONES, Batch, Milestone

HEADER_FIELDS = (
    "code",
    "name",
    "bureau",
    "region",
    "level",
    "decision_no",
    "approved_by",
    "trial_start",
    "trial_end",
)
BATCH_FIELDS = ("no", "name", "cut_over", "gates")
ITEM_COLUMNS = ("code", "name", "department", "legal_basis", "batch", "personnel")
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class PlanItem:
    code: str
    name: str
    department: str
    legal_basis: str
    batch: int
    personnel: tuple[Person, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    bureau: str
    region: str
    level: Level
    decision_no: str
    approved_by: str
    trial_start: date
    trial_end: date
    batches: tuple[Batch, ...]
    items: tuple[PlanItem, ...]
    content_hash: str

    def split(self) -> dict[str, dict[int, int]]:
        """Items per department and batch: the table the plan is announced with."""
        out: dict[str, dict[int, int]] = {}
        for i in self.items:
            per = out.setdefault(i.department, {b.no: 0 for b in self.batches})
            per[i.batch] += 1
        return out


@dataclass(frozen=True)
class PlanError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"第{self.line}行" + (f"字段「{self.field}」" if self.field else "")
        return f"{where}：{self.reason}"


@dataclass
class ParsedPlan:
    plan: Plan | None = None
    errors: list[PlanError] = field(default_factory=list)


@dataclass
class _Rec:
    """One record of the file (header, batch or item) with the line of each field."""

    line: int
    values: dict[str, Any]
    lines: dict[str, int]

    def at(self, name: str) -> int:
        return self.lines.get(name, self.line)

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return value.strip() if isinstance(value, str) else ""

    def listed(self, name: str, sep: str) -> list[str] | None:
        """A list field: a YAML sequence or a separated string; None when it is neither."""
        value = self.values.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                return None
            return [v.strip() for v in value if v.strip()]
        if isinstance(value, str):
            return [v.strip() for v in value.split(sep) if v.strip()]
        return None


# ---- reading the two layouts into records --------------------------------------------------------


class _LineLoader(yaml.BaseLoader):
    """YAML with every scalar as text (like CSV) and the line of every mapping key kept."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lines: dict[str, int] = {}
    dups: list[tuple[str, int]] = []
    for key_node, value_node in node.value:
        key = str(loader.construct_object(key_node, deep=True))
        if key in out:
            dups.append((key, key_node.start_mark.line + 1))
        out[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    out["__line__"], out["__lines__"], out["__dups__"] = node.start_mark.line + 1, lines, dups
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _rec(mapping: dict[str, Any], errors: list[PlanError], allowed: tuple[str, ...]) -> _Rec:
    rec = _Rec(mapping["__line__"], {k: v for k, v in mapping.items() if not k.startswith("__")}, mapping["__lines__"])
    for key, line in mapping["__dups__"]:
        errors.append(PlanError(line, key, "字段重复"))
    for key in rec.values:
        if key not in allowed:
            errors.append(PlanError(rec.at(key), key, f"未知字段（可用字段：{', '.join(allowed)}）"))
    return rec


def _read_yaml(text: str, errors: list[PlanError]) -> tuple[_Rec | None, list[_Rec], list[_Rec]]:
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a BaseLoader subclass: only str/list/dict
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        errors.append(PlanError(mark.line + 1 if mark else 1, "", f"YAML 格式错误：{getattr(e, 'problem', e)}"))
        return None, [], []
    if not isinstance(doc, dict):
        errors.append(PlanError(1, "", "文件应为含 programme、batches、items 三部分的 YAML 映射"))
        return None, [], []
    top = _rec(doc, errors, ("programme", "batches", "items"))
    header = None
    if isinstance(top.values.get("programme"), dict):
        header = _rec(top.values["programme"], errors, HEADER_FIELDS)
    else:
        errors.append(PlanError(top.at("programme"), "programme", "缺少方案信息（programme 映射）"))

    def records(key: str, allowed: tuple[str, ...]) -> list[_Rec]:
        value = top.values.get(key)
        if not isinstance(value, list):
            errors.append(PlanError(top.at(key), key, f"缺少 {key} 列表"))
            return []
        out = []
        for n, v in enumerate(value, start=1):
            if isinstance(v, dict):
                out.append(_rec(v, errors, allowed))
            else:
                errors.append(PlanError(top.at(key), key, f"第{n}项应为映射"))
        return out

    return header, records("batches", BATCH_FIELDS), records("items", ITEM_COLUMNS)


def _read_csv(text: str, errors: list[PlanError]) -> tuple[_Rec | None, list[_Rec], list[_Rec]]:
    lines = text.splitlines()
    header = _Rec(1, {}, {})
    batches: list[_Rec] = []
    body = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if not line.startswith("#"):
            body = i
            break
        body = i + 1
        content = line.lstrip("#").strip()
        if ":" not in content:
            continue  # a free comment
        key, value = (s.strip() for s in content.split(":", 1))
        if key == "batch":
            parts = [p.strip() for p in value.split("|")]
            if len(parts) not in (3, 4):
                errors.append(PlanError(i + 1, "batch", "批次行应为「编号 | 名称 | 切换时间 [| 里程碑,…]」"))
                continue
            values = dict(zip(BATCH_FIELDS, parts, strict=False))
            batches.append(_Rec(i + 1, values, dict.fromkeys(values, i + 1)))
        elif key in HEADER_FIELDS:
            if key in header.values:
                errors.append(PlanError(i + 1, key, "字段重复"))
            header.values[key], header.lines[key] = value, i + 1
        else:
            errors.append(PlanError(i + 1, key, f"未知字段（可用字段：{', '.join((*HEADER_FIELDS, 'batch'))}）"))
    reader = csv.reader(io.StringIO("\n".join(lines[body:])))
    items: list[_Rec] = []
    try:
        columns = tuple(c.strip() for c in next(reader))
    except StopIteration:
        errors.append(PlanError(body + 1, "code", "缺少事项表"))
        return header, batches, items
    if columns != ITEM_COLUMNS:
        errors.append(PlanError(body + 1, "header", f"事项表表头应为 {','.join(ITEM_COLUMNS)}"))
        return header, batches, items
    previous_end = reader.line_num
    for raw in reader:
        line_no = body + previous_end + 1  # a quoted field may span lines: a row starts after the last one ended
        previous_end = reader.line_num
        if not any(c.strip() for c in raw):
            continue
        if len(raw) != len(ITEM_COLUMNS):
            errors.append(PlanError(line_no, "", f"应有 {len(ITEM_COLUMNS)} 列，实有 {len(raw)} 列"))
            continue
        values = dict(zip(ITEM_COLUMNS, raw, strict=True))
        items.append(_Rec(line_no, values, dict.fromkeys(values, line_no)))
    return header, batches, items


def _format(text: str, source: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(source).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".csv":
        return "csv"
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    return "csv" if first.replace(" ", "").startswith("code,") else "yaml"


# ---- validation (one set of rules for both layouts) -------------------------------------------------


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)  # a plan's times are Beijing time unless they say otherwise
    return moment.astimezone(UTC)


def parse_plan(
    text: str,
    *,
    source: str = "<text>",
    fmt: str | None = None,
    catalogue: Catalogue | None = None,
    staff: StaffDirectory | None = None,
) -> ParsedPlan:
    """Validate a whole plan; with ``catalogue`` and ``staff`` every item and person is checked against them."""
    errors: list[PlanError] = []
    text = text.lstrip("\ufeff")
    kind = _format(text, source, fmt)
    header, batch_recs, item_recs = (_read_yaml if kind == "yaml" else _read_csv)(text, errors)
    if errors and header is None and not batch_recs and not item_recs:
        return ParsedPlan(None, errors)  # unreadable: say so, without a cascade of "missing" errors

    def bad(rec: _Rec, name: str, reason: str) -> None:
        errors.append(PlanError(rec.at(name), name, reason))

    def required(rec: _Rec, name: str) -> str:
        value = rec.text(name)
        if not value:
            bad(rec, name, "不能为空")
        return value

    # programme header
    h: dict[str, str] = {}
    trial: dict[str, date] = {}
    level = Level.COUNTY
    if header is not None:
        h = {name: required(header, name) for name in HEADER_FIELDS}
        if h["code"] and not _CODE.match(h["code"]):
            bad(header, "code", f"方案编码「{h['code']}」只能由小写字母、数字和连字符组成")
        if h["level"]:
            try:
                level = Level(h["level"])
            except ValueError:
                bad(header, "level", f"「{h['level']}」不是 {'|'.join(lv.value for lv in Level)} 之一")
        for name in ("trial_start", "trial_end"):
            if h[name]:
                try:
                    trial[name] = date.fromisoformat(h[name])
                except ValueError:
                    bad(header, name, f"「{h[name]}」不是 YYYY-MM-DD 日期")
        if len(trial) == 2 and trial["trial_end"] < trial["trial_start"]:
            bad(header, "trial_end", "试运行结束日期早于开始日期")
    bureau, region = h.get("bureau", ""), h.get("region", "")

    # batches
    batches: dict[int, Batch] = {}
    numbered: set[int] = set()  # every batch number written, valid or not: no cascade of errors on its items
    if not batch_recs:
        errors.append(PlanError(header.line if header else 1, "batches", "至少要有一个批次"))
    for rec in batch_recs:
        no_text, name, cut_text = required(rec, "no"), required(rec, "name"), required(rec, "cut_over")
        try:
            no = int(no_text)
            if no <= 0:
                raise ValueError
        except ValueError:
            if no_text:
                bad(rec, "no", f"批次编号「{no_text}」不是正整数")
            continue
        if no in numbered:
            bad(rec, "no", f"第{no}批重复")
            continue
        numbered.add(no)
        try:
            cut_over = _moment(cut_text)
        except ValueError:
            if cut_text:
                bad(rec, "cut_over", f"「{cut_text}」不是 ISO 8601 时间")
            continue
        gate_names = rec.listed("gates", ",")
        gates: list[Milestone] = []
        if gate_names is None:
            bad(rec, "gates", "里程碑应为列表")
        for g in gate_names or []:
            try:
                gates.append(Milestone(g))
            except ValueError:
                bad(rec, "gates", f"「{g}」不是里程碑（{'、'.join(m.value for m in Milestone)}）")
        if "trial_end" in trial and to_local(cut_over).date() > trial["trial_end"]:
            bad(rec, "cut_over", "切换时间晚于试运行结束日期")
        if name:
            batches[no] = Batch(no, name, cut_over, tuple(gates) if "gates" in rec.values else ALL_MILESTONES)
    ordered = sorted(batches.values(), key=lambda b: b.no)
    for earlier, later in pairwise(ordered):
        if later.cut_over <= earlier.cut_over:
            rec = next(r for r in batch_recs if r.text("no") == str(later.no))
            bad(rec, "cut_over", f"第{later.no}批的切换时间须晚于第{earlier.no}批")

    # items
    region_departments = (
        {m.authority.department for m in catalogue.matters.values() if m.authority.region == region}
        if catalogue is not None
        else None
    )
    items: list[PlanItem] = []
    seen: dict[str, int] = {}
    person_department: dict[str, tuple[str, int]] = {}
    people_by_id = {a.user_id: a for a in staff.all()} if staff is not None else {}
    if not item_recs:
        errors.append(PlanError(header.line if header else 1, "items", "至少要有一个事项"))
    for rec in item_recs:
        code, name = required(rec, "code"), required(rec, "name")
        department, legal_basis = required(rec, "department"), required(rec, "legal_basis")
        batch_text = required(rec, "batch")
        ok = all((code, name, department, legal_basis, batch_text))
        if code in seen:
            bad(rec, "code", f"事项编码「{code}」与第{seen[code]}行重复")
            ok = False
        elif code:
            seen[code] = rec.line
        if department and department == bureau:
            bad(rec, "department", "原实施部门不能是承接的审批局本身")
            ok = False
        elif department and region_departments is not None and department not in region_departments:
            bad(rec, "department", f"未知部门「{department}」（事项目录中{region}没有该部门）")
            ok = False
        batch = 0
        try:
            batch = int(batch_text)
        except ValueError:
            if batch_text:
                bad(rec, "batch", f"批次「{batch_text}」不是整数")
            ok = False
        if batch and batch not in numbered and batch_recs:
            bad(rec, "batch", f"方案中没有第{batch}批")
            ok = False
        if catalogue is not None and code:
            matter = catalogue.matters.get(code)
            if matter is None:
                bad(rec, "code", f"事项目录中没有编码为「{code}」的事项")
                ok = False
            else:
                if matter.kind is not MatterKind.LICENSING:
                    bad(rec, "code", f"「{matter.name}」是{matter.kind.label}事项，不是行政许可事项")
                    ok = False
                if matter.authority.region != region:
                    bad(rec, "code", f"「{matter.name}」属于{matter.authority.region}，不属于{region}")
                    ok = False
                if department and matter.authority.department != department:
                    bad(rec, "department", f"事项目录中「{matter.name}」的实施部门是{matter.authority.department}")
                    ok = False
                if name and matter.name != name:
                    bad(rec, "name", f"与事项目录中的名称「{matter.name}」不一致")
                    ok = False
        ids = rec.listed("personnel", "|")
        people: list[Person] = []
        if ids is None:
            bad(rec, "personnel", "人员应为工作人员编号列表")
            ids, ok = [], False
        if len(set(ids)) != len(ids):
            bad(rec, "personnel", "人员重复")
            ok = False
        for uid in ids:
            earlier_dept = person_department.setdefault(uid, (department, rec.line))
            if earlier_dept[0] != department:
                bad(rec, "personnel", f"「{uid}」已在第{earlier_dept[1]}行随{earlier_dept[0]}的事项划转")
                ok = False
            if staff is None:
                people.append(Person(uid, ""))
                continue
            actor = people_by_id.get(uid)
            if actor is None:
                bad(rec, "personnel", f"未找到工作人员「{uid}」")
                ok = False
            elif actor.department != department:
                bad(rec, "personnel", f"「{actor.name}」（{uid}）属于{actor.department}，不属于{department}")
                ok = False
            else:
                people.append(Person(uid, actor.name))
        if ok:
            items.append(PlanItem(code, name, department, legal_basis, batch, tuple(people), rec.line))

    if errors or header is None:
        errors.sort(key=lambda e: (e.line, e.field))
        return ParsedPlan(None, errors)
    plan = Plan(
        code=h["code"],
        name=h["name"],
        bureau=bureau,
        region=region,
        level=level,
        decision_no=h["decision_no"],
        approved_by=h["approved_by"],
        trial_start=trial["trial_start"],
        trial_end=trial["trial_end"],
        batches=tuple(ordered),
        items=tuple(items),
        content_hash="",
    )
    return ParsedPlan(_with_hash(plan), [])


def _with_hash(plan: Plan) -> Plan:
    """Hash the normalised content (not the layout): the same plan as CSV or YAML, in any order, hashes alike."""
    canonical = {
        "programme": [
            plan.code,
            plan.name,
            plan.bureau,
            plan.region,
            plan.level.value,
            plan.decision_no,
            plan.approved_by,
            plan.trial_start.isoformat(),
            plan.trial_end.isoformat(),
        ],
        "batches": [[b.no, b.name, b.cut_over.isoformat(), [g.value for g in b.gates]] for b in plan.batches],
        "items": sorted(
            [i.code, i.name, i.department, i.legal_basis, i.batch, sorted(p.user_id for p in i.personnel)]
            for i in plan.items
        ),
    }
    digest = hashlib.sha256(json.dumps(canonical, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return replace(plan, content_hash=digest[:32])


def load_plan(
    text: str,
    *,
    source: str = "<text>",
    fmt: str | None = None,
    catalogue: Catalogue | None = None,
    staff: StaffDirectory | None = None,
) -> Plan:
    """The validated plan, or ``PlanInvalid`` naming every bad line and field."""
    parsed = parse_plan(text, source=source, fmt=fmt, catalogue=catalogue, staff=staff)
    if parsed.plan is None:
        shown = "；".join(str(e) for e in parsed.errors[:20])
        more = f"；另有{len(parsed.errors) - 20}处" if len(parsed.errors) > 20 else ""
        raise PlanInvalid(
            f"{source} 有{len(parsed.errors)}处错误，整个文件未载入：{shown}{more}",
            errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in parsed.errors],
        )
    return parsed.plan


def read_plan_file(path: Path, *, catalogue: Catalogue | None = None, staff: StaffDirectory | None = None) -> Plan:
    return load_plan(path.read_text(encoding="utf-8"), source=path.name, catalogue=catalogue, staff=staff)


DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def shipped_plan(name: str) -> Path:
    """A plan file shipped with the project (e.g. ``maerkang-2020``)."""
    return DATA_DIR / f"{name}.yaml"
