"""The simulation's report: the ledger's statistics written up like a bureau's annual
statistics (totals and year on year, shares by matter and channel, units, on-time rates,
objections, extensions, repeats, supervision and recommendations, packages, notices, callbacks),
as Markdown plus PNG charts with Chinese labels: cases by unit and status, deadline compliance,
and petitions by month and matter (the winter heating and pre-Spring-Festival wage-arrears peaks).

Pure: ``write_report(inputs, out_dir)`` needs no broker; the demo fills ``ReportInputs`` from
the ledger's ``/stats`` and ``/cases`` and the services' ``/metrics``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from liandong import get_logger
from liandong.domain.case import STATUS_WORDS

log = get_logger("report")

UNIT_NAMES = {"JUSTICE": "司法 justice", "HRSS": "人社 HRSS", "HOUSING": "住建 housing", "POLICE": "公安 police",
              "STREET_OFFICE": "街道 street office"}
CATEGORY_NAMES = {
    "WAGE_ARREARS": "欠薪 wage arrears", "HEATING": "供暖 winter heating", "PROPERTY_MANAGEMENT": "物业 property management",
    "HOUSING_QUALITY": "房屋质量 housing quality", "LAND": "征地拆迁 land", "SOCIAL_SECURITY": "社保 social security",
    "LITIGATION": "涉法涉诉 litigation-related", "ARBITRATION": "仲裁 arbitration",
    "ADMINISTRATIVE_REVIEW": "行政复议 administrative review", "CIVIL_DISPUTE": "民间纠纷 civil dispute",
    "ADMINISTRATIVE_ACT": "行政行为 administrative act", "PUBLIC_ORDER": "治安秩序 public order",
    "OFFICIAL_MISCONDUCT": "干部作风 officials", "OTHER": "其他 other",
}
CHANNEL_NAMES = {"ONLINE": "网上信访 online", "HOTLINE_12345": "12345 hotline", "VISIT": "来访 visit", "LETTER": "来信 letter"}
#: A CJK font from Debian's packages (fonts-wqy-microhei, installed by `make fonts`): the charts' labels are Chinese.
CJK_FONT = "WenQuanYi Micro Hei"
CJK_FONT_FILES = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),)
#: Case statuses, furthest along first, with their words (written once, beside the statuses).
STATUS_NAMES = {status.value: words for status, words in STATUS_WORDS.items()}
STATUS_ORDER = list(STATUS_NAMES)


@dataclass
class ReportInputs:
    year: int
    stats: dict[str, Any]
    #: (lead unit or None, status) of every case of the year, from the ledger's /cases.
    cases: list[tuple[str | None, str]]
    #: Counters from the ledger's /metrics: {"supervision": {action: n}, "packages": {result: n}, "mediation": {...}}.
    coordination: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Services present in this build (supervision, coordination may be absent).
    services: list[str] = field(default_factory=list)
    metrics_urls: dict[str, str] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _share(n: int, total: int) -> str:
    return f"{n / total * 100:.1f}%" if total else "n/a"


def render_markdown(r: ReportInputs) -> str:
    s = r.stats
    total = int(s.get("total") or 0)
    prev = s.get("previous_year_total")
    yoy = s.get("year_on_year_change")
    lines = [f"# 信访工作年度统计 Petition statistics {r.year} (simulated district)", ""]
    lines.append(f"_Simulated with seed {r.run.get('seed')}: {r.run.get('days', '?')} simulated days in "
                 f"{r.run.get('seconds', 0):.0f} s ({r.run.get('seconds_per_day', 0):.3f} s per day); report date "
                 f"{r.run.get('report_date', '?')}; every figure below is read back from the ledger (台账) API._")
    lines += ["", "## 总体情况 Totals", ""]
    change = (f", {'down' if yoy < 0 else 'up'} {abs(yoy) * 100:.1f}% year on year ({prev} in {r.year - 1})"
              if yoy is not None else " (no previous year in the ledger)")
    lines.append(f"- Petitions accepted (受理信访总量): **{total} 件(批)**{change}.")
    if "persons" in s:
        pyoy = s.get("persons_year_on_year_change")
        visits, groups = s.get("visits") or {}, s.get("group_visits") or {}
        lines.append(f"- Persons (人次): **{s['persons']}**" +
                     (f", {'down' if pyoy < 0 else 'up'} {abs(pyoy) * 100:.1f}% year on year" if pyoy is not None else "") +
                     f"; visits (来访) {visits.get('batches', 0)} 批 {visits.get('persons', 0)} 人次, of them group visits "
                     f"(集体访, 5 or more people) {groups.get('batches', 0)} 批 {groups.get('persons', 0)} 人次.")
    mode = s.get("by_mode") or {}
    lines.append(f"- Forwarded (转送) {mode.get('FORWARD', 0)}, assigned (交办) {mode.get('ASSIGN', 0)}.")
    lines.append(f"- Routed to a unit (转送/交办): {sum(s.get('by_lead_unit', {}).values())}; "
                 f"diverted to litigation, arbitration, review or discipline channels (诉访分离): {s.get('diverted', 0)}; "
                 f"repeat petitions (重复信访): {s.get('by_status', {}).get('REPEAT', 0)}.")
    lines.append(f"- Resolved (办结): {s.get('resolved', 0)}; still open and overdue at the report date: {s.get('overdue', 0)}.")
    lines += ["", "## 时效与质量 Deadlines and quality", "", "| measure | rate |", "|---|---|"]
    for label, key in (("On-time acceptance notice (按期受理告知率, 15 days)", "on_time_acceptance_rate"),
                       ("On-time closing (按期办结率, 60 days + extension)", "on_time_closing_rate"),
                       ("Objection rate (异议率)", "objection_rate"), ("Extension rate (延期率)", "extension_rate"),
                       ("Repeat rate (重复信访率)", "repeat_rate"),
                       ("Review rate (复查率: reviews applied for / opinions)", "review_rate"),
                       ("Re-check rate (复核率: re-checks applied for / review decisions)", "recheck_rate")):
        lines.append(f"| {label} | {_pct(s.get(key))} |")
    reviews = s.get("reviews") or {}
    if any(v.get("applied") for v in reviews.values()):
        lines += ["", "## 复查复核 Review and re-check", "",
                  "| stage | applied | decided | upheld 维持 | changed 变更 | revoked 撤销 | change rate 改变率 |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for stage, name in (("REVIEW", "复查 review"), ("RECHECK", "复核 re-check")):
            v = reviews.get(stage) or {}
            lines.append(f"| {name} | {v.get('applied', 0)} | {v.get('decided', 0)} | {v.get('upheld', 0)} | "
                         f"{v.get('changed', 0)} | {v.get('revoked', 0)} | {_pct(v.get('change_rate'))} |")
    lines += ["", "## 信访事项分类 By matter", "", "| matter | petitions | share |", "|---|---:|---:|"]
    for cat, n in sorted(s.get("by_category", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"| {CATEGORY_NAMES.get(cat, cat)} | {n} | {_share(n, total)} |")
    lines += ["", "## 信访渠道 By channel", "", "| channel | petitions | share |", "|---|---:|---:|"]
    for ch, n in sorted(s.get("by_channel", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"| {CHANNEL_NAMES.get(ch, ch)} | {n} | {_share(n, total)} |")
    if s.get("most_complained_units"):
        lines += ["", "## 信访量较大的单位 Units with the most petitions", ""]
        lines += [f"- {UNIT_NAMES.get(u['unit'], u['unit'])}: {u['cases']} ({_pct(u.get('share'))} of the routed cases)"
                  for u in s["most_complained_units"]]
    lines += ["", "## 责任单位 By handling unit (lead)", "",
              "| unit | cases | resolved | accepted on time | accepted late | closed on time | closed late | objections | extensions |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for unit, u in s.get("by_unit", {}).items():
        lines.append(f"| {UNIT_NAMES.get(unit, unit)} | {u['cases']} | {u['resolved']} | {u['accepted_on_time']} | "
                     f"{u['accepted_late']} | {u['closed_on_time']} | {u['closed_late']} | {u['objections']} | {u['extensions']} |")
    ranked = sorted(s.get("by_unit", {}).items(), key=lambda kv: -(kv[1]["accepted_late"] + kv[1]["closed_late"]))
    if ranked and ranked[0][1]["accepted_late"] + ranked[0][1]["closed_late"]:
        unit, u = ranked[0]
        lines.append("")
        lines.append(f"Most deadline breaches: **{UNIT_NAMES.get(unit, unit)}** ({u['accepted_late']} late acceptance "
                     f"notices, {u['closed_late']} late closings).")
    lines += ["", "## 督查督办 Supervision and recommendations (三项建议)", ""]
    sup = r.coordination.get("supervision", {})
    if "supervision" not in r.services:
        lines.append("The supervision service is not part of this build: no reminders or notices were sent.")
    elif not sup:
        lines.append("No supervision action was needed.")
    else:
        for action, n in sorted(sup.items()):
            lines.append(f"- {action}: {n:.0f}")
    figures = s.get("supervision") or {}
    if figures.get("letters_by_unit"):
        issued = figures.get("letters_issued") or {}
        lines += ["", f"Letters (ledger): reminders (提醒函) {issued.get('reminder', 0)}, notices (督办函) "
                      f"{issued.get('notice', 0)}, listings (挂牌督办) {issued.get('listed', 0)}.", "",
                  "| unit | reminders | notices | listings |", "|---|---:|---:|---:|"]
        for unit, n in figures["letters_by_unit"].items():
            lines.append(f"| {UNIT_NAMES.get(unit, unit)} | {n['reminder']} | {n['notice']} | {n['listed']} |")
    if "recommendations" in figures:
        rec = figures["recommendations"]
        lines.append("")
        lines.append(f"- Three recommendations (三项建议): issued {rec['issued']}, answered {rec['answered']}, adopted "
                     f"{rec['adopted']} (adoption rate {_pct(figures.get('recommendation_adoption_rate'))}).")
    lines += ["", "## 包案与联合调处 Packages and joint mediation", ""]
    pk, med = r.coordination.get("packages", {}), r.coordination.get("mediation", {})
    if "coordination" not in r.services:
        lines.append("The coordination service (packages, mediation, task teams) is not part of this build.")
    else:
        ledger_pk = s.get("packages")
        if ledger_pk:  # the ledger's figures, over this year's cases
            pk = {k: v for k, v in (("RESOLVED", ledger_pk["resolved"]), ("PARTIALLY_RESOLVED", ledger_pk["partially_resolved"]),
                                    ("UNRESOLVED", ledger_pk["unresolved"]),
                                    ("TRANSFERRED_TO_JUDICIAL", ledger_pk["transferred_to_judicial"])) if v}
        closed = sum(pk.values())
        solved = pk.get("RESOLVED", 0) + pk.get("SOLVED", 0)
        if "packages_ordered" in r.run:
            lines.append(f"- Key cases packaged (包案, group visits of 10 or more): {r.run['packages_ordered']}, "
                         f"still open at the report date: {r.run.get('packages_open_at_end', 0)}")
        lines.append(f"- Packages closed (包案): {closed:.0f}" + (f", resolution rate {_share(int(solved), int(closed))}"
                                                                  if closed else "") +
                     ("; " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(pk.items())) if pk else ""))
        if "mediations_proposed" in r.run:
            lines.append(f"- Joint mediations requested by the bureau (联合调处): {r.run['mediations_proposed']}")
        lines.append(f"- Joint mediations concluded (联合调处): {sum(med.values()):.0f}" +
                     ("; " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(med.items())) if med else ""))
    notices = s.get("notices") or {}
    lines += ["", "## 告知书 Written notices to petitioners", ""]
    issued = notices.get("issued") or {}
    if not issued:
        lines.append("No notice was issued.")
    else:
        names = {"ACCEPTANCE": "受理告知书", "NOT_ACCEPTED": "不予受理告知书", "DIVERSION": "分流告知书",
                 "EXTENSION": "延期告知书", "OPINION": "处理意见书"}
        lines.append(f"- Issued: {sum(issued.values())} (" + ", ".join(f"{names.get(k, k)} {v}" for k, v in sorted(issued.items()))
                     + f"); confirmed delivered (送达): {notices.get('delivered', 0)}.")
    sat = s.get("satisfaction") or {}
    lines += ["", "## 回访与满意度 Callbacks and satisfaction", ""]
    if not sat.get("evaluated"):
        lines.append("No callback was recorded.")
    else:
        lines.append(f"- Opinions evaluated at a callback (回访): {sat['evaluated']}; satisfied (满意) {sat['satisfied']}, "
                     f"basically satisfied (基本满意) {sat['basically_satisfied']}, unsatisfied (不满意) {sat['unsatisfied']}; "
                     f"satisfaction rate (满意率) **{_pct(sat.get('rate'))}**.")
        lines += ["", "| unit | evaluated | satisfied | basically | unsatisfied | satisfaction rate |",
                  "|---|---:|---:|---:|---:|---:|"]
        for unit, u in sat.get("by_unit", {}).items():
            lines.append(f"| {UNIT_NAMES.get(unit, unit)} | {u['evaluated']} | {u['satisfied']} | {u['basically_satisfied']} | "
                         f"{u['unsatisfied']} | {_pct(u.get('rate'))} |")
    lines += ["", "## 办理结果 Outcomes", ""]
    for outcome, n in sorted(s.get("outcomes", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"- {outcome}: {n}")
    lines += ["", "## Charts", "", "![Cases by unit and status](cases_by_unit_status.png)", "",
              "![Deadline compliance by unit](deadline_compliance.png)", "",
              "![Petitions by month and matter](cases_by_month_matter.png)", ""]
    if r.metrics_urls:
        lines += ["## Services' /metrics", ""]
        lines += [f"- {name}: {url}" for name, url in r.metrics_urls.items()]
        lines.append("")
    return "\n".join(lines)


def cases_by_unit_status(cases: list[tuple[str | None, str]]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for unit, status in cases:
        out.setdefault(unit or "(none: diverted / repeat)", Counter())[status] += 1
    return out


def use_cjk_font() -> bool:
    """Makes matplotlib draw Chinese with the CJK font, if installed; False (and a warning) if not."""
    import matplotlib
    from matplotlib import font_manager

    for path in CJK_FONT_FILES:
        if path.exists() and CJK_FONT not in {f.name for f in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(str(path))
    if CJK_FONT not in {f.name for f in font_manager.fontManager.ttflist}:
        log.warning("no_cjk_font", font=CJK_FONT, fix="make fonts (Debian package fonts-wqy-microhei)")
        return False
    matplotlib.rcParams["font.sans-serif"] = [CJK_FONT, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False  # the font's minus sign, not U+2212 it lacks
    return True


def write_charts(r: ReportInputs, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_cjk_font()
    paths = []
    grid = cases_by_unit_status(r.cases)
    units = sorted(grid, key=lambda u: -sum(grid[u].values()))
    statuses = [st for st in STATUS_ORDER if any(grid[u][st] for u in units)] + sorted(
        {st for u in units for st in grid[u]} - set(STATUS_ORDER))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bottom = [0] * len(units)
    for st in statuses:
        values = [grid[u][st] for u in units]
        ax.bar([UNIT_NAMES.get(u, u) for u in units], values, bottom=bottom, label=STATUS_NAMES.get(st, st))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"{r.year}年各责任单位案件办理状态 Cases by lead unit and status")
    ax.set_ylabel("件 cases")
    ax.legend(fontsize=8, ncols=2)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    paths.append(out_dir / "cases_by_unit_status.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    by_unit = r.stats.get("by_unit", {})
    names = list(by_unit)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.38

    def rate(ok: int, late: int) -> float:
        return 100.0 * ok / (ok + late) if ok + late else 0.0

    xs = range(len(names))
    ax.bar([x - width / 2 for x in xs], [rate(by_unit[n]["accepted_on_time"], by_unit[n]["accepted_late"]) for n in names],
           width, label="按期受理告知率 acceptance notice on time (15 days)")
    ax.bar([x + width / 2 for x in xs], [rate(by_unit[n]["closed_on_time"], by_unit[n]["closed_late"]) for n in names],
           width, label="按期办结率 closed on time (60 days + extension)")
    ax.set_xticks(list(xs), [UNIT_NAMES.get(n, n) for n in names], fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% 已知结果的案件 of cases with a known outcome")
    ax.set_title(f"{r.year}年各责任单位办理时效 Deadline compliance by lead unit")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    paths.append(out_dir / "deadline_compliance.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    months = [f"{r.year}-{m:02d}" for m in range(1, 13)]
    by_month = r.stats.get("by_month_category", {})
    totals = Counter({cat: n for m in months for cat, n in by_month.get(m, {}).items()})
    shown = [cat for cat, _ in totals.most_common(6)]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    bottom = [0] * len(months)
    for cat in [*shown, "其他"]:
        values = [sum(n for c, n in by_month.get(m, {}).items() if (c == cat if cat in shown else c not in shown))
                  for m in months]
        if not any(values):
            continue
        ax.bar([f"{int(m[5:])}月" for m in months], values, bottom=bottom, label=CATEGORY_NAMES.get(cat, cat))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"{r.year}年各月信访事项分类 Petitions by month and matter")
    ax.set_ylabel("件 petitions")
    ax.legend(fontsize=8, ncols=2)
    fig.tight_layout()
    paths.append(out_dir / "cases_by_month_matter.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_report(r: ReportInputs, out_dir: Path) -> tuple[Path, str]:
    """Writes report.md, the charts and stats.json into ``out_dir``; returns the report's path and text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = render_markdown(r)
    path = out_dir / "report.md"
    path.write_text(text, encoding="utf-8")
    write_charts(r, out_dir)
    (out_dir / "stats.json").write_text(json.dumps(asdict(r), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path, text
