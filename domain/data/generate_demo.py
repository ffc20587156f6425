"""Regenerate the Aba demo catalogue (``catalogue.csv``) and staff list (``staff.csv``).

Developer tool, not imported at run time: ``.venv/bin/python -m domain.data.generate_demo``.
Bump ``VERSION`` whenever the output changes; the version is stamped into the catalogue file.
"""

from __future__ import annotations

import csv
from pathlib import Path

from domain.catalogue import CATALOGUE_COLUMNS

VERSION = "aba-demo-2020.2"
PREFECTURE = "阿坝州"
# Region name -> administrative division code (GB/T 2260) of Aba prefecture's 13 counties/cities.
COUNTIES = {
    "马尔康市": "513201",
    "汶川县": "513221",
    "理县": "513222",
    "茂县": "513223",
    "松潘县": "513224",
    "九寨沟县": "513225",
    "金川县": "513226",
    "小金县": "513227",
    "黑水县": "513228",
    "壤塘县": "513230",
    "阿坝县": "513231",
    "若尔盖县": "513232",
    "红原县": "513233",
}
PREFECTURE_CODE = "513200"

# (template code, name, kind, department suffix, levels, statutory, promised, day type, materials)
TEMPLATES: list[tuple[str, str, str, str, str, int, int, str, list[str]]] = [
    (
        "SCJG-001",
        "食品经营许可",
        "licensing",
        "市场监督管理局",
        "both",
        20,
        5,
        "working",
        ["食品经营许可申请书", "营业执照复印件", "法定代表人身份证明", "经营场所平面图", "食品安全管理制度"],
    ),
    (
        "SCJG-002",
        "个体工商户设立登记",
        "licensing",
        "市场监督管理局",
        "county",
        15,
        1,
        "working",
        ["个体工商户登记申请书", "经营者身份证明", "经营场所使用证明"],
    ),
    (
        "ZJ-001",
        "建筑工程施工许可证核发",
        "licensing",
        "住房和城乡建设局",
        "both",
        15,
        7,
        "working",
        ["建筑工程施工许可申请表", "建设工程规划许可证", "施工合同", "安全施工措施资料"],
    ),
    (
        "ZRZY-001",
        "建设用地规划许可证核发",
        "licensing",
        "自然资源局",
        "both",
        20,
        10,
        "working",
        ["建设用地规划许可申请表", "建设项目批准文件", "土地权属证明", "规划设计条件"],
    ),
    (
        "WJ-001",
        "医疗机构执业登记",
        "licensing",
        "卫生健康委员会",
        "both",
        45,
        20,
        "working",
        ["医疗机构执业登记申请书", "设置医疗机构批准书", "医疗机构用房产权证明", "卫生技术人员名录及资格证书"],
    ),
    (
        "WJ-002",
        "公共场所卫生许可",
        "licensing",
        "卫生健康委员会",
        "county",
        20,
        5,
        "working",
        ["公共场所卫生许可申请表", "营业执照复印件", "卫生检测报告"],
    ),
    (
        "JT-001",
        "道路旅客运输经营许可",
        "licensing",
        "交通运输局",
        "both",
        20,
        10,
        "working",
        ["道路旅客运输经营申请表", "车辆情况说明", "驾驶人员资格证明", "安全生产管理制度"],
    ),
    (
        "GA-001",
        "居民身份证换领",
        "public_service",
        "公安局",
        "county",
        60,
        30,
        "natural",
        ["居民户口簿", "原居民身份证"],
    ),
    (
        "GA-002",
        "户口迁移",
        "public_service",
        "公安局",
        "county",
        20,
        5,
        "working",
        ["户口迁移申请表", "居民户口簿", "准予迁入证明"],
    ),
    (
        "YB-001",
        "基本医疗保险关系转移接续",
        "public_service",
        "医疗保障局",
        "both",
        15,
        5,
        "working",
        ["参保人身份证明", "基本医疗保险参保凭证"],
    ),
    (
        "SW-001",
        "取水许可",
        "licensing",
        "水务局",
        "both",
        45,
        20,
        "working",
        ["取水许可申请书", "建设项目水资源论证报告", "取水工程设计文件"],
    ),
    (
        "SB-001",
        "企业职工基本养老保险待遇核定",
        "public_service",
        "社会保险事业管理局",
        "both",
        20,
        10,
        "working",
        ["养老保险待遇申领表", "居民身份证", "退休审批表"],
    ),
    (
        "RS-001",
        "职业技能等级证书补发",
        "public_service",
        "人力资源和社会保障局",
        "prefecture",
        20,
        10,
        "working",
        ["补发申请表", "居民身份证", "遗失声明"],
    ),
    (
        "JY-001",
        "民办学校办学许可",
        "licensing",
        "教育局",
        "both",
        60,
        30,
        "working",
        ["民办学校办学申请书", "举办者资格证明", "校舍及设施证明", "章程及首届理事会组成人员名单"],
    ),
    (
        "MZ-001",
        "社会团体成立登记",
        "licensing",
        "民政局",
        "both",
        60,
        30,
        "working",
        ["社会团体成立登记申请书", "章程草案", "业务主管单位批准文件", "验资报告"],
    ),
    (
        "MZ-002",
        "最低生活保障审核确认",
        "public_service",
        "民政局",
        "county",
        30,
        20,
        "natural",
        ["最低生活保障申请书", "家庭经济状况核对授权书", "居民户口簿"],
    ),
]


def department(region: str, suffix: str) -> str:
    return f"{region}{suffix}"


# ---- Parallel approval (并联审批) of construction projects -------------------------------------------
# Self-contained block (issue 9): the matters of the four stages of 工程建设项目审批 for the prefecture and
# every county, the departments that handle them, and a supervisor post (督办) at each service centre.
# domain/parallel/plan.py (STANDARD_STAGES) groups these template codes into stages; ZJ-001 and ZRZY-001
# above are reused. (template code, name, department suffix at prefecture level, at county level,
# statutory days, promised days, materials); all licensing matters on working days, both levels.
PARALLEL_TEMPLATES: list[tuple[str, str, str, str, int, int, list[str]]] = [
    ("FG-001", "政府投资项目审批（项目建议书、可行性研究报告）", "发展和改革委员会", "发展和改革局", 20, 10,
     ["项目审批申请文件", "可行性研究报告", "项目代码赋码信息"]),
    ("ZRZY-002", "建设项目用地预审与选址意见书核发", "自然资源局", "自然资源局", 20, 10,
     ["用地预审与选址申请表", "建设项目批准文件", "项目用地边界拐点坐标表", "节约集约用地论证分析"]),
    ("STHJ-001", "建设项目环境影响评价文件审批", "生态环境局", "生态环境局", 60, 20,
     ["环境影响评价审批申请", "环境影响报告书（表）", "公众参与说明"]),
    ("SW-002", "生产建设项目水土保持方案审批", "水务局", "水务局", 20, 10,
     ["水土保持方案审批申请", "水土保持方案报告书", "技术评审意见"]),
    ("LC-001", "建设项目使用林地审核审批", "林业和草原局", "林业和草原局", 20, 15,
     ["使用林地申请表", "使用林地可行性报告", "林地权属证明", "补偿协议"]),
    ("ZRZY-003", "建设工程规划许可证核发", "自然资源局", "自然资源局", 20, 10,
     ["建设工程规划许可申请表", "建设用地规划许可证", "设计方案总平面图", "土地权属证明"]),
    ("RF-001", "人民防空工程建设审批（结建审批）", "人民防空办公室", "人民防空办公室", 20, 10,
     ["人防工程建设审批申请表", "建设工程规划许可证", "人防工程设计文件"]),
    ("JT-002", "涉路施工许可", "交通运输局", "交通运输局", 20, 10,
     ["涉路施工许可申请书", "设计图纸及说明", "施工方案", "保障公路安全的技术评价报告"]),
    ("ZJ-002", "施工图设计文件审查备案", "住房和城乡建设局", "住房和城乡建设局", 15, 5,
     ["施工图设计文件", "施工图审查合格书", "勘察文件"]),
    ("ZJ-003", "特殊建设工程消防设计审查", "住房和城乡建设局", "住房和城乡建设局", 15, 10,
     ["消防设计审查申请表", "消防设计文件", "依法需要办理的行政许可批准文件"]),
    ("RF-002", "人民防空工程施工图设计文件备案", "人民防空办公室", "人民防空办公室", 15, 5,
     ["人防工程施工图备案表", "人防工程施工图审查意见"]),
    ("ZJ-004", "房屋建筑和市政基础设施工程竣工验收备案", "住房和城乡建设局", "住房和城乡建设局", 15, 5,
     ["竣工验收备案表", "工程竣工验收报告", "施工单位签署的工程质量保修书"]),
    ("ZJ-005", "特殊建设工程消防验收", "住房和城乡建设局", "住房和城乡建设局", 15, 10,
     ["消防验收申请表", "工程竣工验收报告", "涉及消防的建设工程竣工图纸"]),
    ("ZRZY-004", "建设工程规划条件核实", "自然资源局", "自然资源局", 20, 10,
     ["规划核实申请表", "竣工测量成果报告", "建设工程规划许可证"]),
    ("RF-003", "人民防空工程竣工验收备案", "人民防空办公室", "人民防空办公室", 15, 5,
     ["人防工程竣工验收备案表", "人防工程竣工验收报告"]),
]  # fmt: skip


def parallel_rows(region: str, region_code: str, level: str) -> list[tuple[list[str], str, str]]:
    """The region's parallel-approval matters: (catalogue row, department, staff id stem)."""
    rows = []
    for code, name, prefecture_suffix, county_suffix, statutory, promised, materials in PARALLEL_TEMPLATES:
        dept = department(region, prefecture_suffix if level == "prefecture" else county_suffix)
        row = [f"{region_code}-{code}", name, "licensing", dept, level, region, str(statutory), str(promised),
               "working", "|".join(materials)]  # fmt: skip
        rows.append((row, dept, code.split("-")[0].lower()))
    return rows


def supervisor_staff(region: str, region_code: str) -> list[list[str]]:
    """督查督办岗 of the region's service centre: receives 督办 of departments silent past their deadline."""
    centre = f"{region}政务服务中心"
    return [
        [f"{region_code}-db-a", f"{region}督办员甲", centre, "supervisor", region],
        [f"{region_code}-db-b", f"{region}督办员乙", centre, "supervisor", region],
    ]


def build_rows() -> tuple[list[list[str]], list[list[str]]]:
    matters: list[list[str]] = []
    departments: dict[str, dict[str, str]] = {}  # region -> department -> staff id stem
    regions = [(PREFECTURE, PREFECTURE_CODE, "prefecture")] + [(r, c, "county") for r, c in COUNTIES.items()]
    for region, region_code, level in regions:
        for code, name, kind, suffix, levels, statutory, promised, day_type, materials in TEMPLATES:
            if levels not in ("both", level):
                continue
            dept = department(region, suffix)
            departments.setdefault(region, {})[dept] = code.split("-")[0].lower()
            matters.append(
                [
                    f"{region_code}-{code}",
                    name,
                    kind,
                    dept,
                    level,
                    region,
                    str(statutory),
                    str(promised),
                    day_type,
                    "|".join(materials),
                ]
            )
        for row, dept, stem in parallel_rows(region, region_code, level):  # parallel approval block
            departments.setdefault(region, {})[dept] = stem
            matters.append(row)
    staff: list[list[str]] = []
    for region, region_code, _ in regions:
        centre = f"{region}政务服务中心"
        staff += [
            [f"{region_code}-qt-a", f"{region}综合窗口甲", centre, "front_desk", region],
            [f"{region_code}-qt-b", f"{region}综合窗口乙", centre, "front_desk", region],
            [f"{region_code}-cj-a", f"{region}出件窗口甲", centre, "output_window", region],
        ]
        staff += supervisor_staff(region, region_code)  # parallel approval block
        for dept, stem in sorted(departments[region].items(), key=lambda kv: kv[1]):
            staff.append([f"{region_code}-{stem}-a", f"{dept}审批员甲", dept, "reviewer", region])
            staff.append([f"{region_code}-{stem}-b", f"{dept}审批员乙", dept, "reviewer", region])
    return matters, staff


if __name__ == "__main__":
    here = Path(__file__).parent
    matters, staff = build_rows()
    with (here / "catalogue.csv").open("w", encoding="utf-8", newline="") as f:
        f.write(
            f"# version: {VERSION}\n# 阿坝州政务服务事项演示目录（州本级及13个县（市））；由 generate_demo.py 生成\n"
        )
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CATALOGUE_COLUMNS)
        w.writerows(matters)
    with (here / "staff.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "name", "department", "post", "region"])
        w.writerows(staff)
    print(f"{len(matters)} matters, {len(staff)} staff")
