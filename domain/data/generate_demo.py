"""Regenerate the Aba demo catalogue (``catalogue.csv``), staff list (``staff.csv``) and the Maerkang
transfer plan (``maerkang-2020.yaml``).

Developer tool, not imported at run time: ``.venv/bin/python -m domain.data.generate_demo``.
Bump ``VERSION`` whenever the output changes; the version is stamped into the catalogue file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from domain.catalogue import CATALOGUE_COLUMNS

VERSION = "aba-demo-2020.3"
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


# Where a region names a department differently from the template (after the 2019 reform Maerkang
# has a 卫生健康局, not a 卫生健康委员会).
DEPARTMENT_NAMES = {("马尔康市", "卫生健康委员会"): "卫生健康局"}


def department(region: str, suffix: str) -> str:
    return f"{region}{DEPARTMENT_NAMES.get((region, suffix), suffix)}"


# ==== Maerkang 2020: 177 licensing items of 20 departments transferred to the approval bureau =========
#
# 马尔康市行政审批局 takes over 177 administrative-licensing items (行政许可事项) of 20 departments of the
# county-level city in two batches (split by department, see docs/data-formats.md):
#   batch 1 (cut-over 2020-06-01 00:00, 投资建设和市场准入类): 发改, 商经信, 自然资源, 住建, 交通运输, 水务,
#           应急管理, 市场监管, 生态环境 — 90 items;
#   batch 2 (cut-over 2020-07-01 00:00, 社会事务和农林资源类): 教育, 公安, 民政, 司法, 财政, 人社, 农业农村,
#           文体旅, 卫健, 林草, 民宗 — 87 items.
# Ten of the items are matters the demo catalogue already had for Maerkang (their template codes are
# kept); the other 167 get codes 513201-<department prefix>-101… Legal bases are the laws and State
# Council regulations that set each licence. Personnel who move with the items (人随事走) are named;
# they start as reviewers of their origin department. Document numbers are demo data.

MAERKANG = "马尔康市"
MAERKANG_CODE = "513201"
BUREAU = "马尔康市行政审批局"
MAERKANG_PROGRAMME = {
    "code": "maerkang-2020",
    "name": "马尔康市相对集中行政许可权改革",
    "bureau": BUREAU,
    "region": MAERKANG,
    "level": "county",
    "decision_no": "马府发〔2020〕8号",
    "approved_by": "马尔康市人民政府",
    "trial_start": "2020-06-01",
    "trial_end": "2020-10-31",
}
MAERKANG_BATCHES = [
    (1, "第一批（投资建设和市场准入类）", "2020-06-01T00:00:00+08:00"),
    (2, "第二批（社会事务和农林资源类）", "2020-07-01T00:00:00+08:00"),
]
# The bureau's own reviewers (审查审批岗), recruited for it, besides the people who move with the items.
BUREAU_STAFF = ["周晓红", "阿旺仁真", "王海燕", "泽郎措", "刘明杰", "李娜"]

# (prefix, department suffix, batch, promised days, shared materials, people who move, items)
# Each item: (template code when the catalogue already has it, or "", name, legal basis).
MaerkangDept = tuple[str, str, int, int, list[str], list[str], list[tuple[str, str, str]]]
LAW_LICENCE_DECISION = "《国务院对确需保留的行政审批项目设定行政许可的决定》"
MAERKANG_DEPARTMENTS: list[MaerkangDept] = [
    (
        "FG",
        "发展和改革局",
        1,
        10,
        ["项目申请文件", "申请单位法人证书或营业执照"],
        ["王志强", "泽郎初"],
        [
            ("", "企业投资项目核准", "《企业投资项目核准和备案管理条例》第三条"),
            ("", "政府投资项目建议书审批", "《政府投资条例》第九条"),
            ("", "政府投资项目可行性研究报告审批", "《政府投资条例》第九条"),
            ("", "政府投资项目初步设计审批", "《政府投资条例》第十一条"),
            ("", "固定资产投资项目节能审查", "《中华人民共和国节约能源法》第十五条"),
            ("", "粮食收购资格认定", "《粮食流通管理条例》第九条"),
            (
                "",
                "在电力设施周围或者电力设施保护区内进行可能危及电力设施安全作业审批",
                "《中华人民共和国电力法》第五十二条、第五十四条",
            ),
        ],
    ),
    (
        "SJ",
        "商务经济和信息化局",
        1,
        10,
        ["申请单位营业执照", "安全防护或经营条件说明"],
        ["李晓梅"],
        [
            ("", "石油天然气管道保护范围内特定施工作业许可", "《中华人民共和国石油天然气管道保护法》第三十五条"),
            ("", "成品油零售经营资格审批（初审）", LAW_LICENCE_DECISION),
            ("", "报废机动车回收拆解企业资质认定（初审）", "《报废机动车回收管理办法》第七条"),
            ("", "对外劳务合作经营资格核准（初审）", "《对外劳务合作管理条例》第五条"),
        ],
    ),
    (
        "ZRZY",
        "自然资源局",
        1,
        10,
        ["项目批准文件", "土地权属证明"],
        ["陈建华", "仁真旺姆", "罗小军"],
        [
            ("ZRZY-001", "建设用地规划许可证核发", "《中华人民共和国城乡规划法》第三十七条、第三十八条"),
            ("", "建设工程规划许可证核发", "《中华人民共和国城乡规划法》第四十条"),
            ("", "乡村建设规划许可证核发", "《中华人民共和国城乡规划法》第四十一条"),
            (
                "",
                "建设项目用地预审与选址意见书核发",
                "《中华人民共和国城乡规划法》第三十六条；《中华人民共和国土地管理法》第五十二条",
            ),
            ("", "国有建设用地使用权划拨批准", "《中华人民共和国土地管理法》第五十四条"),
            ("", "临时用地审批", "《中华人民共和国土地管理法》第五十七条"),
            ("", "开采矿产资源审批（砂石粘土类）", "《中华人民共和国矿产资源法》第十六条"),
            ("", "乡（镇）村企业使用集体建设用地审批", "《中华人民共和国土地管理法》第六十条"),
            ("", "乡（镇）村公共设施、公益事业使用集体建设用地审批", "《中华人民共和国土地管理法》第六十一条"),
            (
                "",
                "划拨土地使用权和地上建筑物及附着物所有权转让、出租、抵押审批",
                "《中华人民共和国城镇国有土地使用权出让和转让暂行条例》第四十五条",
            ),
            ("", "建设工程规划条件核实", "《中华人民共和国城乡规划法》第四十五条"),
            ("", "测量标志拆迁审批", "《中华人民共和国测绘法》第四十三条；《中华人民共和国测量标志保护条例》第十八条"),
        ],
    ),
    (
        "ZJ",
        "住房和城乡建设局",
        1,
        7,
        ["建设项目批准文件", "设计或施工方案"],
        ["杨洪", "泽旺多吉", "刘芳", "何斌"],
        [
            ("ZJ-001", "建筑工程施工许可证核发", "《中华人民共和国建筑法》第七条"),
            ("", "商品房预售许可", "《中华人民共和国城市房地产管理法》第四十五条"),
            ("", "城镇污水排入排水管网许可", "《城镇排水与污水处理条例》第二十一条"),
            ("", "燃气经营许可", "《城镇燃气管理条例》第十五条"),
            ("", "燃气设施改动审批", "《城镇燃气管理条例》第三十八条"),
            ("", "挖掘城市道路审批", "《城市道路管理条例》第三十三条"),
            ("", "占用城市道路审批", "《城市道路管理条例》第三十一条"),
            ("", "依附于城市道路建设各种管线、杆线等设施审批", "《城市道路管理条例》第二十九条"),
            ("", "特殊车辆在城市道路上行驶审批", "《城市道路管理条例》第二十八条"),
            ("", "城市建筑垃圾处置核准", LAW_LICENCE_DECISION),
            ("", "从事城市生活垃圾经营性清扫、收集、运输、处理服务审批", LAW_LICENCE_DECISION),
            ("", "关闭、闲置、拆除城市环境卫生设施许可", "《中华人民共和国固体废物污染环境防治法》第四十四条"),
            ("", "改变绿化规划、绿化用地的使用性质审批", "《城市绿化条例》第十九条"),
            ("", "工程建设涉及城市绿地、树木审批", "《城市绿化条例》第二十条、第二十一条"),
            ("", "拆除、改动、迁移城市公共供水设施审批", "《城市供水条例》第三十条"),
            (
                "",
                "设置大型户外广告及在城市建筑物、设施上悬挂、张贴宣传品审批",
                "《城市市容和环境卫生管理条例》第十一条、第十七条",
            ),
            ("", "建设工程消防设计审查", "《中华人民共和国消防法》第十一条"),
            ("", "建设工程消防验收", "《中华人民共和国消防法》第十三条"),
        ],
    ),
    (
        "JT",
        "交通运输局",
        1,
        10,
        ["营业执照或申请人身份证明", "安全生产管理制度"],
        ["三郎泽仁", "周敏", "黄勇"],
        [
            ("JT-001", "道路旅客运输经营许可", "《中华人民共和国道路运输条例》第十条"),
            ("", "道路旅客运输站（场）经营许可", "《中华人民共和国道路运输条例》第三十九条"),
            ("", "道路货物运输经营许可", "《中华人民共和国道路运输条例》第二十四条"),
            ("", "出租汽车经营许可", LAW_LICENCE_DECISION),
            ("", "出租汽车车辆运营证核发", LAW_LICENCE_DECISION),
            ("", "公路建设项目施工许可", "《中华人民共和国公路法》第二十五条"),
            ("", "占用、挖掘公路或者使公路改线审批", "《中华人民共和国公路法》第四十四条"),
            (
                "",
                "跨越、穿越公路修建桥梁、渡槽或者架设、埋设管道、电缆等设施审批",
                "《中华人民共和国公路法》第四十五条",
            ),
            ("", "在公路用地范围内设置非公路标志审批", "《中华人民共和国公路法》第五十四条"),
            ("", "在公路上增设或者改造平面交叉道口审批", "《中华人民共和国公路法》第五十五条"),
            ("", "更新采伐护路林审批", "《中华人民共和国公路法》第四十二条"),
            ("", "超限运输车辆行驶公路许可", "《中华人民共和国公路法》第五十条；《公路安全保护条例》第三十五条"),
        ],
    ),
    (
        "SW",
        "水务局",
        1,
        15,
        ["建设项目批准文件", "论证或评价报告"],
        ["阿根", "赵丽"],
        [
            ("SW-001", "取水许可", "《中华人民共和国水法》第七条、第四十八条；《取水许可和水资源费征收管理条例》"),
            ("", "水工程建设规划同意书审核", "《中华人民共和国水法》第十九条"),
            ("", "河道管理范围内建设项目工程建设方案审批", "《中华人民共和国防洪法》第二十七条"),
            ("", "生产建设项目水土保持方案审批", "《中华人民共和国水土保持法》第二十五条"),
            ("", "非防洪建设项目洪水影响评价报告审批", "《中华人民共和国防洪法》第三十三条"),
            ("", "河道采砂许可", "《中华人民共和国河道管理条例》第二十五条"),
            ("", "农村集体经济组织修建水库审批", "《中华人民共和国水法》第二十五条"),
            ("", "占用农业灌溉水源、灌排工程设施审批", LAW_LICENCE_DECISION),
            ("", "水利基建项目初步设计文件审批", LAW_LICENCE_DECISION),
            ("", "城市建设填堵水域、废除围堤审核", "《中华人民共和国防洪法》第三十四条"),
        ],
    ),
    (
        "YJ",
        "应急管理局",
        1,
        15,
        ["营业执照", "安全评价报告"],
        ["张伟"],
        [
            ("", "危险化学品经营许可", "《危险化学品安全管理条例》第三十三条"),
            ("", "烟花爆竹经营（零售）许可", "《烟花爆竹安全管理条例》第十九条"),
            ("", "金属冶炼建设项目安全设施设计审查", "《中华人民共和国安全生产法》第三十条"),
            (
                "",
                "非煤矿矿山建设项目安全设施设计审查",
                "《中华人民共和国安全生产法》第三十条；《中华人民共和国矿山安全法》第八条",
            ),
            ("", "危险化学品建设项目安全条件审查", "《危险化学品安全管理条例》第十二条"),
        ],
    ),
    (
        "SCJG",
        "市场监督管理局",
        1,
        3,
        ["申请人身份证明", "经营场所使用证明"],
        ["卓玛", "杨秀英", "王琳", "降初"],
        [
            ("SCJG-001", "食品经营许可", "《中华人民共和国食品安全法》第三十五条"),
            ("SCJG-002", "个体工商户设立登记", "《个体工商户条例》第八条"),
            ("", "个体工商户变更登记", "《个体工商户条例》第十条"),
            ("", "个体工商户注销登记", "《个体工商户条例》第十二条"),
            ("", "企业设立登记", "《中华人民共和国公司登记管理条例》第三条"),
            ("", "企业变更登记", "《中华人民共和国公司登记管理条例》第二十六条"),
            ("", "企业注销登记", "《中华人民共和国公司登记管理条例》第四十二条"),
            ("", "分公司设立登记", "《中华人民共和国公司登记管理条例》第四十七条"),
            ("", "个人独资企业设立登记", "《中华人民共和国个人独资企业法》第九条"),
            ("", "农民专业合作社设立登记", "《中华人民共和国农民专业合作社法》第十六条"),
            ("", "农民专业合作社变更登记", "《农民专业合作社登记管理条例》第十四条"),
            ("", "食品生产许可（低风险食品）", "《中华人民共和国食品安全法》第三十五条"),
            (
                "",
                "食品小作坊登记",
                "《中华人民共和国食品安全法》第三十六条；《四川省食品小作坊、小经营店及摊贩管理条例》",
            ),
            ("", "药品零售企业经营许可", "《中华人民共和国药品管理法》第五十一条"),
            ("", "特种设备使用登记", "《中华人民共和国特种设备安全法》第三十三条"),
            ("", "计量标准器具核准", "《中华人民共和国计量法》第六条"),
            ("", "股权出质登记", "《中华人民共和国物权法》第二百二十六条"),
            ("", "动产抵押登记", "《中华人民共和国物权法》第一百八十九条"),
        ],
    ),
    (
        "ST",
        "生态环境局",
        1,
        15,
        ["建设项目批准文件", "环境影响评价文件"],
        ["马骏"],
        [
            ("", "建设项目环境影响报告书审批", "《中华人民共和国环境影响评价法》第二十二条"),
            ("", "建设项目环境影响报告表审批", "《中华人民共和国环境影响评价法》第二十二条"),
            ("", "拆除或者闲置环境噪声污染防治设施审批", "《中华人民共和国环境噪声污染防治法》第十五条"),
            (
                "",
                "江河、湖泊新建、改建或者扩大排污口审核",
                "《中华人民共和国水法》第三十四条；《中华人民共和国水污染防治法》第十九条",
            ),
        ],
    ),
    (
        "JY",
        "教育局",
        2,
        15,
        ["举办者或申请人身份证明", "场所及设施证明"],
        ["苏静", "扎西"],
        [
            ("JY-001", "民办学校办学许可", "《中华人民共和国民办教育促进法》第十二条"),
            ("", "民办学校变更审批", "《中华人民共和国民办教育促进法》第五十三条"),
            ("", "民办学校终止审批", "《中华人民共和国民办教育促进法》第五十六条"),
            ("", "民办幼儿园设立审批", "《中华人民共和国民办教育促进法》第十二条；《幼儿园管理条例》第十一条"),
            ("", "幼儿园、小学和初级中学教师资格认定", "《中华人民共和国教师法》第十三条；《教师资格条例》第十三条"),
            ("", "校车使用许可", "《校车安全管理条例》第十四条"),
            ("", "适龄儿童、少年因身体状况需要延缓入学或者休学审批", "《中华人民共和国义务教育法》第十一条"),
        ],
    ),
    (
        "GA",
        "公安局",
        2,
        10,
        ["申请人身份证明", "安全保卫方案"],
        ["蒋涛"],
        [
            ("", "旅馆业特种行业许可证核发", f"{LAW_LICENCE_DECISION}；《旅馆业治安管理办法》第四条"),
            ("", "公章刻制业特种行业许可证核发", f"{LAW_LICENCE_DECISION}；《印铸刻字业暂行管理规则》"),
            ("", "大型群众性活动安全许可", "《大型群众性活动安全管理条例》第十一条"),
            ("", "焰火晚会烟花爆竹燃放许可", "《烟花爆竹安全管理条例》第三十三条"),
            ("", "烟花爆竹道路运输许可", "《烟花爆竹安全管理条例》第二十二条"),
        ],
    ),
    (
        "MZ",
        "民政局",
        2,
        20,
        ["章程草案或变更材料", "业务主管单位意见"],
        ["拉姆", "吴刚"],
        [
            ("MZ-001", "社会团体成立登记", "《社会团体登记管理条例》第三条"),
            ("", "社会团体变更登记", "《社会团体登记管理条例》第十八条"),
            ("", "社会团体注销登记", "《社会团体登记管理条例》第十九条"),
            ("", "民办非企业单位成立登记", "《民办非企业单位登记管理暂行条例》第三条"),
            ("", "民办非企业单位变更登记", "《民办非企业单位登记管理暂行条例》第十五条"),
            ("", "民办非企业单位注销登记", "《民办非企业单位登记管理暂行条例》第十六条"),
            ("", "慈善组织公开募捐资格审核", "《中华人民共和国慈善法》第二十二条"),
            ("", "建设殡仪服务站、骨灰堂审批", "《殡葬管理条例》第八条"),
        ],
    ),
    (
        "SF",
        "司法局",
        2,
        15,
        ["申请人身份证明", "执业或设立条件证明"],
        ["邓磊"],
        [
            ("", "基层法律服务工作者执业核准（初审）", "《基层法律服务工作者管理办法》第十一条"),
            ("", "基层法律服务所设立核准（初审）", "《基层法律服务所管理办法》第九条"),
        ],
    ),
    (
        "CZ",
        "财政局",
        2,
        10,
        ["营业执照", "会计从业人员专业能力证明"],
        ["唐莉"],
        [
            ("", "中介机构从事代理记账业务审批", "《中华人民共和国会计法》第三十六条；《代理记账管理办法》第三条"),
        ],
    ),
    (
        "RS",
        "人力资源和社会保障局",
        2,
        10,
        ["营业执照", "管理制度文本"],
        ["冯雪"],
        [
            ("", "人力资源服务许可", "《人力资源市场暂行条例》第十八条"),
            ("", "劳务派遣经营许可", "《中华人民共和国劳动合同法》第五十七条"),
            ("", "企业实行不定时工作制和综合计算工时工作制审批", "《中华人民共和国劳动法》第三十九条"),
            ("", "民办职业培训学校设立、分立、合并、变更及终止审批", "《中华人民共和国民办教育促进法》第十二条"),
        ],
    ),
    (
        "NY",
        "农业农村局",
        2,
        10,
        ["营业执照或申请人身份证明", "场所及设施条件证明"],
        ["更登", "罗尔依", "孙浩"],
        [
            ("", "农药经营许可", "《农药管理条例》第二十四条"),
            ("", "兽药经营许可", "《兽药管理条例》第二十二条"),
            ("", "农作物种子生产经营许可", "《中华人民共和国种子法》第三十一条"),
            ("", "动物防疫条件合格证核发", "《中华人民共和国动物防疫法》第二十条"),
            ("", "动物诊疗许可", "《中华人民共和国动物防疫法》第五十一条"),
            ("", "生猪定点屠宰厂（场）设置审查", "《生猪屠宰管理条例》第八条"),
            ("", "乡村兽医登记", "《中华人民共和国动物防疫法》第五十六条"),
            ("", "水产苗种生产经营审批", "《中华人民共和国渔业法》第十六条"),
            ("", "水域滩涂养殖证核发", "《中华人民共和国渔业法》第十一条"),
            ("", "渔业捕捞许可", "《中华人民共和国渔业法》第二十三条"),
            ("", "食用菌菌种生产经营许可", "《中华人民共和国种子法》第九十三条"),
            (
                "",
                "拖拉机和联合收割机驾驶证核发",
                "《中华人民共和国道路交通安全法》第十九条；《农业机械安全监督管理条例》",
            ),
            ("", "拖拉机和联合收割机登记", "《中华人民共和国道路交通安全法》第八条；《农业机械安全监督管理条例》"),
            ("", "农业植物检疫证书核发", "《植物检疫条例》第七条"),
            ("", "农村村民宅基地审批", "《中华人民共和国土地管理法》第六十二条"),
        ],
    ),
    (
        "WL",
        "文化体育和旅游局",
        2,
        10,
        ["营业执照", "场所安全及消防证明"],
        ["斯朗措", "曾凡"],
        [
            ("", "娱乐场所经营活动审批", "《娱乐场所管理条例》第九条"),
            ("", "互联网上网服务营业场所经营单位设立审批", "《互联网上网服务营业场所管理条例》第十条"),
            ("", "营业性演出审批", "《营业性演出管理条例》第十五条"),
            ("", "文艺表演团体设立审批", "《营业性演出管理条例》第六条"),
            ("", "出版物零售单位和个体工商户设立、变更审批", "《出版管理条例》第三十七条"),
            ("", "从事包装装潢印刷品和其他印刷品印刷经营活动企业的设立、变更审批", "《印刷业管理条例》第十条"),
            ("", "电影放映单位设立审批", "《中华人民共和国电影产业促进法》第二十四条"),
            ("", "经营高危险性体育项目许可", "《全民健身条例》第三十二条"),
            ("", "举办健身气功活动及设立站点审批", LAW_LICENCE_DECISION),
            (
                "",
                "乡镇设立广播电视站和机关、部队、团体、企业事业单位设立有线广播电视站审批",
                "《广播电视管理条例》第十五条",
            ),
            ("", "文物保护单位建设控制地带内建设工程设计方案审批", "《中华人民共和国文物保护法》第十八条"),
            (
                "",
                "在县级文物保护单位保护范围内进行其他建设工程或者爆破、钻探、挖掘作业审批",
                "《中华人民共和国文物保护法》第十七条",
            ),
        ],
    ),
    (
        "WJ",
        "卫生健康委员会",
        2,
        20,
        ["申请人身份证明", "执业或卫生条件证明"],
        ["白玛", "徐静", "蒲勇"],
        [
            ("WJ-001", "医疗机构执业登记", "《医疗机构管理条例》第十五条"),
            ("WJ-002", "公共场所卫生许可", "《公共场所卫生管理条例》第八条"),
            ("", "医疗机构设置审批", "《医疗机构管理条例》第九条"),
            ("", "母婴保健技术服务机构执业许可", "《中华人民共和国母婴保健法》第三十二条"),
            ("", "母婴保健服务人员资格认定", "《中华人民共和国母婴保健法》第三十三条"),
            ("", "放射诊疗许可", "《放射性同位素与射线装置安全和防护条例》第八条"),
            ("", "饮用水供水单位卫生许可", "《中华人民共和国传染病防治法》第二十九条"),
            ("", "医师执业注册", "《中华人民共和国执业医师法》第十三条"),
            ("", "护士执业注册", "《护士条例》第七条"),
            ("", "乡村医生执业注册", "《乡村医生从业管理条例》第九条"),
            ("", "医疗机构放射性职业病危害建设项目预评价报告审核", "《中华人民共和国职业病防治法》第十七条"),
            ("", "计划生育技术服务机构执业许可", "《计划生育技术服务管理条例》第二十四条"),
        ],
    ),
    (
        "LC",
        "林业和草原局",
        2,
        10,
        ["申请人身份证明", "林地或草原权属证明"],
        ["泽仁达瓦", "贾明", "郑秀兰"],
        [
            ("", "林木采伐许可证核发", "《中华人民共和国森林法》第三十二条"),
            (
                "",
                "建设项目使用林地审核（初审）",
                "《中华人民共和国森林法》第十八条；《中华人民共和国森林法实施条例》第十六条",
            ),
            ("", "临时使用林地审批", "《中华人民共和国森林法实施条例》第十七条"),
            (
                "",
                "森林经营单位修筑直接为林业生产服务的工程设施占用林地审批",
                "《中华人民共和国森林法实施条例》第十八条",
            ),
            ("", "林草种子生产经营许可", "《中华人民共和国种子法》第三十一条"),
            ("", "林业植物检疫证书核发", "《植物检疫条例》第八条"),
            ("", "木材运输证核发", "《中华人民共和国森林法》第三十七条；《中华人民共和国森林法实施条例》第三十五条"),
            ("", "森林防火期内在森林防火区野外用火审批", "《森林防火条例》第二十五条"),
            ("", "进入森林高火险区活动审批", "《森林防火条例》第二十九条"),
            ("", "猎捕非国家重点保护陆生野生动物狩猎证核发", "《中华人民共和国野生动物保护法》第二十二条"),
            ("", "非国家重点保护野生动物人工繁育许可", "《四川省〈中华人民共和国野生动物保护法〉实施办法》"),
            ("", "草原征占用审核（初审）", "《中华人民共和国草原法》第三十八条"),
            ("", "临时占用草原审批", "《中华人民共和国草原法》第四十条"),
            (
                "",
                "在草原上修建直接为草原保护和畜牧业生产服务的工程设施使用草原审批",
                "《中华人民共和国草原法》第三十九条",
            ),
            ("", "在风景名胜区内进行建设活动审批（初审）", "《风景名胜区条例》第二十八条"),
        ],
    ),
    (
        "MZZJ",
        "民族宗教事务局",
        2,
        20,
        ["宗教团体意见", "场所及资金来源说明"],
        ["益西"],
        [
            ("", "宗教活动场所筹备设立审批（初审）", "《宗教事务条例》第二十一条"),
            ("", "宗教活动场所设立、变更、注销登记", "《宗教事务条例》第二十三条"),
            ("", "宗教临时活动地点审批", "《宗教事务条例》第三十五条"),
            ("", "在宗教活动场所内改建或者新建建筑物审批", "《宗教事务条例》第三十三条"),
            ("", "宗教活动场所扩建、异地重建审批（初审）", "《宗教事务条例》第三十三条"),
            ("", "大型宗教活动审批（初审）", "《宗教事务条例》第四十二条"),
        ],
    ),
]


@dataclass(frozen=True)
class MaerkangItem:
    code: str
    name: str
    department: str
    legal_basis: str
    batch: int
    personnel: tuple[str, ...]
    new_matter: list[str] | None  # the catalogue row to add, None when the catalogue already has the matter


def maerkang_items() -> list[MaerkangItem]:
    """The 177 items, each with its catalogue row (new matters only) and the person who moves with it."""
    out: list[MaerkangItem] = []
    templates = {t[0]: t for t in TEMPLATES}
    for prefix, suffix, batch, promised, materials, movers, items in MAERKANG_DEPARTMENTS:
        dept = department(MAERKANG, suffix)
        people = [mover_id(prefix, n) for n in range(1, len(movers) + 1)]
        number = 100
        for i, (template, name, legal_basis) in enumerate(items):
            person = (people[i % len(people)],)
            if template:
                assert templates[template][1] == name and templates[template][3] == suffix, template
                out.append(MaerkangItem(f"{MAERKANG_CODE}-{template}", name, dept, legal_basis, batch, person, None))
                continue
            number += 1
            code = f"{MAERKANG_CODE}-{prefix}-{number}"
            days = 3 if name.endswith("登记") and promised > 3 else promised
            row = [
                code,
                name,
                "licensing",
                dept,
                "county",
                MAERKANG,
                "20",
                str(days),
                "working",
                "|".join([f"{name}申请书", *materials]),
            ]
            out.append(MaerkangItem(code, name, dept, legal_basis, batch, person, row))
    return out


def mover_id(prefix: str, n: int) -> str:
    return f"{MAERKANG_CODE}-{prefix.lower()}-{n:02d}"


def maerkang_staff() -> list[list[str]]:
    """The bureau's reviewers, then the people who move with the items (still at their origin department)."""
    rows = [
        [f"{MAERKANG_CODE}-spj-{n:02d}", name, BUREAU, "reviewer", MAERKANG]
        for n, name in enumerate(BUREAU_STAFF, start=1)
    ]
    for prefix, suffix, _, _, _, movers, _ in MAERKANG_DEPARTMENTS:
        rows += [
            [mover_id(prefix, n), name, department(MAERKANG, suffix), "reviewer", MAERKANG]
            for n, name in enumerate(movers, start=1)
        ]
    return rows


def maerkang_plan_yaml(items: list[MaerkangItem]) -> str:
    """The plan file: programme header, batches and items (personnel by user id)."""
    out = [
        "# 马尔康市相对集中行政许可权改革：177项行政许可事项（20个部门）分两批划转马尔康市行政审批局",
        "# 由 domain/data/generate_demo.py 生成；格式见 docs/data-formats.md「Transfer plan files」；文号为演示数据",
        "programme:",
        *[f"  {k}: {v}" for k, v in MAERKANG_PROGRAMME.items()],
        "batches:",
    ]
    for no, name, cut_over in MAERKANG_BATCHES:
        out += [f"  - no: {no}", f"    name: {name}", f'    cut_over: "{cut_over}"']
    out.append("items:")
    current = ""
    for item in items:
        if item.department != current:
            current = item.department
            count = sum(1 for i in items if i.department == current)
            out.append(f"  # {current}：{count}项，第{item.batch}批")
        out += [
            f"  - code: {item.code}",
            f"    name: {item.name}",
            f"    department: {item.department}",
            f"    legal_basis: {item.legal_basis}",
            f"    batch: {item.batch}",
            f"    personnel: [{', '.join(item.personnel)}]",
        ]
    return "\n".join(out) + "\n"


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
    for item in maerkang_items():  # the Maerkang transfer's matters, after the templates' rows
        if item.new_matter is not None:
            matters.append(item.new_matter)
    for prefix, suffix, *_ in MAERKANG_DEPARTMENTS:
        departments[MAERKANG].setdefault(department(MAERKANG, suffix), prefix.lower())
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
    return matters, staff + maerkang_staff()


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
    items = maerkang_items()
    (here / "maerkang-2020.yaml").write_text(maerkang_plan_yaml(items), encoding="utf-8")
    print(f"{len(matters)} matters, {len(staff)} staff, Maerkang plan: {len(items)} items")
