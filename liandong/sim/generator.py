"""A district's petitions for two years, seeded: what `liandong demo` submits to intake.

Modelled on the seed reports (/work/shared/seeds: two district petition bureaus' annual reports):
winter heating and wage arrears are the named mass matters (heating from November to March,
wage arrears peaking before the Spring Festival); property management, land and housing
quality follow; litigation-related petitions are diverted (诉访分离); group visits (集体访)
come mostly on wage arrears, heating and land; a share of petitions are repeats by the same
person on the same matter (重复信访). One district's volume fell 34.2% year on year (697 in
2024), so the previous year has ``1 / (1 - 0.342)`` times the current year's petitions.

Pure: no Kafka, no clock. ``generate(...)`` returns the petitions in order of receipt, each
the JSON record intake's ``POST /petitions`` accepts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from liandong.domain import BUREAU_TZ

T = TypeVar("T")

#: One district's year on year change in the seed report (2024: 697 件(批), −34.2%).
SEED_YEAR_ON_YEAR = -0.342


@dataclass(frozen=True)
class Matter:
    category: str
    weight: float
    summaries: tuple[str, ...]
    #: Relative volume by month, January first (seasonality).
    months: tuple[float, ...] = (1,) * 12
    #: Share of petitions on this matter that are group visits.
    group_rate: float = 0.0


_WINTER = (3, 2.5, 1.5, 0.3, 0.1, 0.1, 0.1, 0.1, 0.2, 0.8, 2.5, 3)
_SPRING_FESTIVAL = (2.5, 2, 0.8, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9, 1, 1.5, 2.5)

MATTERS: tuple[Matter, ...] = (
    Matter("WAGE_ARREARS", 20, ("在某小区建筑工地务工，施工方拖欠工资三个月", "项目部拖欠农民工工资，多次讨薪无果",
                                "公司拖欠工资半年，老板失联", "施工单位恶意欠薪拒不支付，工人聚集讨薪"),
           _SPRING_FESTIVAL, group_rate=0.15),
    Matter("HEATING", 16, ("小区供暖温度不足16度，多次反映无人解决", "暖气不热，供热公司推诿", "老旧小区未通供暖"),
           _WINTER, group_rate=0.08),
    Matter("PROPERTY_MANAGEMENT", 12, ("物业不作为，电梯长期停运", "物业乱收费，业主委员会无法成立", "物业撤场后小区无人管理")),
    Matter("LAND", 9, ("征地补偿分配不公", "拆迁安置房迟迟未交付", "集体土地被占用未获补偿"), group_rate=0.10),
    Matter("HOUSING_QUALITY", 7, ("新房漏水开发商拒不维修", "住房墙体裂缝存在安全隐患", "楼顶防水层破损墙皮脱落")),
    Matter("SOCIAL_SECURITY", 7, ("养老金核算有误", "工伤认定后待遇未落实", "医保报销被拒")),
    Matter("CIVIL_DISPUTE", 7, ("邻里宅基地纠纷", "借款纠纷对方拒不还款", "相邻通行纠纷")),
    Matter("LITIGATION", 6, ("对区法院一审民事判决不服，要求改判", "执行案件久拖不决", "不服法院判决要求信访部门督促")),
    Matter("PUBLIC_ORDER", 4, ("夜间噪音扰民", "小区门口占道经营扰乱秩序")),
    Matter("ADMINISTRATIVE_ACT", 4, ("对街道作出的违建拆除决定有异议", "低保资格被取消不服")),
    Matter("ARBITRATION", 2, ("劳动合同解除补偿争议，要求仲裁",)),
    Matter("OFFICIAL_MISCONDUCT", 2, ("反映社区干部作风问题", "反映村干部吃拿卡要")),
    Matter("OTHER", 4, ("反映公交线路调整不便", "建议增设社区卫生服务站")),
)

#: Channels: online petitions encouraged (阳光信访), the 12345 hotline, visits, letters.
CHANNELS: dict[str, float] = {"ONLINE": 0.42, "HOTLINE_12345": 0.25, "VISIT": 0.22, "LETTER": 0.11}
#: Share of petitions that are a repeat by an earlier petitioner on the same matter.
REPEAT_RATE = 0.08

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = "建国秀英强伟芳娜敏静丽军磊洋勇艳杰涛明超霞平刚桂英玉兰志华红梅文海燕波宁"
_PLACES = ("云冈区新平旺街道", "云冈区口泉乡", "云冈区西韩岭乡", "云冈区和平街道", "云冈区平旺乡", "云冈区高山镇",
           "云冈区鸦儿崖街道", "云冈区老平旺街道")


@dataclass(frozen=True)
class Petition:
    """One submission, in the shape intake accepts, plus what the report needs to know."""

    record: dict[str, Any]
    received_at: datetime
    persons: int
    repeat: bool

    @property
    def category(self) -> str:
        return str(self.record["category"])

    @property
    def channel(self) -> str:
        return str(self.record["channel"])


def previous_year_count(current: int) -> int:
    """The previous year's volume, such that the current year shows the seed report's change."""
    return round(current / (1 + SEED_YEAR_ON_YEAR))


def generate(current: int, *, year: int, seed: int, tag: str = "sim", previous: int | None = None) -> list[Petition]:
    """``current`` petitions received in ``year`` and ``previous`` (default: the seed report's
    change) in ``year - 1``, in order of receipt; the same arguments give the same petitions."""
    rng = random.Random(seed)
    prev = previous_year_count(current) if previous is None else previous
    stamps = sorted([_moment(rng, year - 1) for _ in range(prev)]) + sorted([_moment(rng, year) for _ in range(current)])
    people: list[tuple[dict[str, Any], Matter, str]] = []  # earlier petitioners and their matter, for repeats
    out: list[Petition] = []
    for i, at in enumerate(stamps):
        repeat = bool(people) and rng.random() < REPEAT_RATE
        if repeat:
            petitioner, matter, summary = rng.choice(people)
            petitioner = dict(petitioner)
            persons = petitioner.get("group_size", 1)
        else:
            matter = _weighted(rng, MATTERS, [m.weight * m.months[at.month - 1] for m in MATTERS])
            summary = rng.choice(matter.summaries)
            petitioner = _person(rng, i)
            persons = rng.randint(5, 60) if rng.random() < matter.group_rate else 1
            if persons > 1:
                petitioner["group_size"] = persons
            people.append((petitioner, matter, summary))
        channel = "VISIT" if persons > 1 else _weighted(rng, list(CHANNELS), list(CHANNELS.values()))
        record = {
            "idempotency_key": f"{tag}-{seed}-{i:06d}", "channel": channel, "received_at": at.isoformat(),
            "petitioner": petitioner, "summary": ("再次反映：" if repeat else "") + summary, "category": matter.category,
        }
        out.append(Petition(record, at, persons, repeat))
    return out


def _moment(rng: random.Random, year: int) -> datetime:
    """A working-hours moment of ``year``, months weighted by the matters' seasons."""
    month_weights = [sum(m.weight * m.months[k] for m in MATTERS) for k in range(12)]
    month = _weighted(rng, list(range(1, 13)), month_weights)
    first = datetime(year, month, 1, tzinfo=BUREAU_TZ)
    days = ((first.replace(month=month + 1) if month < 12 else first.replace(year=year + 1, month=1)) - first).days
    return first + timedelta(days=rng.randrange(days), hours=8 + rng.random() * 9.5)


def _person(rng: random.Random, i: int) -> dict[str, Any]:
    born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    return {
        "name": rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2)))),
        "id_number": f"140214{born:%Y%m%d}{i % 1000:03d}{rng.randrange(10)}",
        "phone": f"139{rng.randrange(10**8):08d}",
        "address": rng.choice(_PLACES),
    }


def _weighted(rng: random.Random, items: list[T] | tuple[T, ...], weights: list[float]) -> T:
    return rng.choices(list(items), weights=weights, k=1)[0]
