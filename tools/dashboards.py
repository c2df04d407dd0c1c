"""Liandong's Grafana dashboards as code (grafana-foundation-sdk).

    .venv/bin/python tools/dashboards.py          # rewrites deploy/grafana/dashboards/*.json
    .venv/bin/python tools/dashboards.py --check  # exits 1 if a committed file is out of date

The output is deterministic (sorted keys, fixed uids and panel ids), so a test compares it with
the committed JSON. Every panel queries the `datasource` variable (Prometheus); panels over
metrics with a `unit` label filter on the `unit` variable; every rate()/increase() uses
`$__rate_interval`. Metric names come from liandong/metrics.py, and the sign-for buckets used
for "signed within N days" from its SIGNFOR_BUCKETS.

`panel_queries()` lists every query for a live test against a real Prometheus, and
`concrete(expr)` replaces the Grafana variables so Prometheus can evaluate it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from grafana_foundation_sdk.builders import bargauge, stat, timeseries  # noqa: E402
from grafana_foundation_sdk.builders import common as common_b  # noqa: E402
from grafana_foundation_sdk.builders import dashboard as dash  # noqa: E402
from grafana_foundation_sdk.builders import prometheus as prom  # noqa: E402
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.models import common  # noqa: E402
from grafana_foundation_sdk.models.dashboard import (  # noqa: E402
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from prometheus_client.utils import floatToGoString  # noqa: E402

from liandong.metrics import DAY, SIGNFOR_BUCKETS  # noqa: E402

OUT_DIR = ROOT / "deploy" / "grafana" / "dashboards"
TAG = "liandong"

#: Every panel and query uses the dashboard's data source variable.
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
UNIT = 'unit=~"$unit"'
SERVICE = 'service=~"$service"'
#: Case events (sign-for, objections, resolutions, supervision) are rare: those panels aggregate
#: per hour at least ($__rate_interval follows the panel's minimum interval).
CASE_INTERVAL = "1h"

Builder = Any  # a grafana-foundation-sdk panel builder


def _le(days: int) -> str:
    """The `le` label of the sign-for bucket of `days` days, as the Python client writes it."""
    bound = days * DAY
    if bound not in SIGNFOR_BUCKETS:
        raise ValueError(f"liandong.metrics.SIGNFOR_BUCKETS has no {days}-day bucket")
    return floatToGoString(bound)


# -- building blocks ------------------------------------------------------------------------------
def _query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prom.Dataquery:
    q = prom.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    return q.instant() if instant else q.range()


def _targets(builder: Builder, queries: Iterable[tuple[str, str]], instant: bool = False) -> Builder:
    for i, (expr, legend) in enumerate(queries):
        builder = builder.with_target(_query(expr, legend, chr(ord("A") + i), instant))
    return builder


def _common(builder: Builder, title: str, description: str, unit: str, span: int, height: int,
            interval: str | None) -> Builder:
    builder = builder.title(title).description(description).datasource(DS).unit(unit).span(span).height(height)
    return builder.interval(interval) if interval else builder


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=v, color=c) for v, c in steps])


def series(title: str, description: str, queries: list[tuple[str, str]], unit: str = "short", span: int = 12,
           height: int = 8, stacked: bool = False, bars: bool = False, interval: str | None = None,
           soft_max: float | None = None) -> Builder:
    p = _common(timeseries.Panel(), title, description, unit, span, height, interval)
    p = p.min(0).fill_opacity(10).line_width(1).show_points(common.VisibilityMode.NEVER)
    p = p.legend(common_b.VizLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
                 .placement(common.LegendPlacement.BOTTOM).show_legend(True).calcs(["mean", "max", "lastNotNull"]))
    p = p.tooltip(common_b.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING))
    if stacked:
        p = p.stacking(common_b.StackingConfig().mode(common.StackingMode.NORMAL))
    if bars:
        p = p.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    if soft_max is not None:
        p = p.axis_soft_max(soft_max)
    return _targets(p, queries)


def single(title: str, description: str, queries: list[tuple[str, str]], unit: str = "short", span: int = 6,
           height: int = 5, thresholds: dash.ThresholdsConfig | None = None, interval: str | None = None,
           decimals: float | None = None) -> Builder:
    p = _common(stat.Panel(), title, description, unit, span, height, interval)
    p = p.graph_mode(common.BigValueGraphMode.AREA).color_mode(common.BigValueColorMode.VALUE)
    p = p.reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    p = p.thresholds(thresholds or _thresholds((None, "green")))
    if decimals is not None:
        p = p.decimals(decimals)
    return _targets(p, queries)


def bars(title: str, description: str, queries: list[tuple[str, str]], unit: str = "short", span: int = 12,
         height: int = 8, thresholds: dash.ThresholdsConfig | None = None, max_value: float | None = None,
         interval: str | None = None) -> Builder:
    p = _common(bargauge.Panel(), title, description, unit, span, height, interval)
    p = p.display_mode(common.BarGaugeDisplayMode.GRADIENT).orientation(common.VizOrientation.HORIZONTAL).min(0)
    p = p.reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    p = p.thresholds(thresholds or _thresholds((None, "blue")))
    if max_value is not None:
        p = p.max(max_value)
    return _targets(p, queries, instant=True)


def base(uid: str, title: str, description: str, time_from: str, refresh: str,
         extra_variables: Iterable[dash.QueryVariable] = ()) -> dash.Dashboard:
    """A dashboard with the variables and links every Liandong dashboard has."""
    d = (dash.Dashboard(title).uid(uid).description(description).tags([TAG]).time(time_from, "now").refresh(refresh)
         .timezone("browser").tooltip(DashboardCursorSync.CROSSHAIR).editable())
    d = d.with_variable(dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
                        .current(VariableOption(selected=True, text="Prometheus", value="prometheus")))
    d = d.with_variable(dash.QueryVariable("unit").label("Unit").datasource(DS)
                        .description("Handling units (承办单位): the `unit` label of the case metrics.")
                        .query("label_values(liandong_open_cases, unit)").multi(True).include_all(True).all_value(".*")
                        .current(VariableOption(selected=True, text="All", value="$__all"))
                        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC))
    for variable in extra_variables:
        d = d.with_variable(variable)
    return d.link(dash.DashboardLink("Liandong").type(DashboardLinkType.DASHBOARDS).tags([TAG]).as_dropdown(True)
                  .include_vars(True).keep_time(True))


def _add(d: dash.Dashboard, rows: list[tuple[str, list[Builder]]]) -> dash.Dashboard:
    """Adds the rows and their panels with stable ids (1, 2, ... in order)."""
    next_id = 1
    for row_title, panels in rows:
        d = d.with_row(dash.Row(row_title).id(next_id))
        next_id += 1
        for panel in panels:
            d = d.with_panel(panel.id(next_id))
            next_id += 1
    return d


# -- (a) bus throughput and lag --------------------------------------------------------------------------
def bus() -> dash.Dashboard:
    service_var = (dash.QueryVariable("service").label("Service").datasource(DS)
                   .description("Liandong services (each is one Prometheus job).")
                   .query("label_values(up, job)").multi(True).include_all(True).all_value(".*")
                   .current(VariableOption(selected=True, text="All", value="$__all"))
                   .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC))
    d = base("liandong-bus", "Liandong · Bus throughput and lag",
             "Messages consumed and produced by every service, processing latency, dead letters, consumer lag and "
             "authorization denials.", "now-1h", "30s", [service_var])
    consumed = f"liandong_consumed_messages_total{{{SERVICE}}}"
    produced = f"liandong_produced_messages_total{{{SERVICE}}}"
    processing = f"liandong_processing_duration_seconds_bucket{{{SERVICE}}}"

    def quantiles(by: str) -> list[tuple[str, str]]:
        return [(f"histogram_quantile({q}, sum by ({by}) (rate({processing}[{RATE}])))", f"p{int(q * 100)}")
                for q in (0.5, 0.95, 0.99)]

    return _add(d, [
        ("Health", [
            single("Services up", "Services whose /metrics endpoint Prometheus reached at the last scrape.",
                   [('sum(up{job=~"$service"})', "")], thresholds=_thresholds((None, "red"), (1, "green"))),
            single("Consumed (messages/s)", "All messages consumed by the selected services.",
                   [(f"sum(rate({consumed}[{RATE}]))", "")], decimals=2),
            single("Dead letters (messages/s)", "Messages sent to liandong.deadletter.",
                   [(f"sum(rate(liandong_dead_letters_total{{{SERVICE}}}[{RATE}]))", "")],
                   thresholds=_thresholds((None, "green"), (1e-9, "red")), decimals=3),
            single("Largest consumer lag", "The most messages any consumer group is behind on one topic.",
                   [("max(liandong_consumer_lag_messages)", "")],
                   thresholds=_thresholds((None, "green"), (10, "orange"), (100, "red"))),
        ]),
        ("Throughput", [
            series("Consumed by service (messages/s)", "rate() of liandong_consumed_messages_total by service.",
                   [(f"sum by (service) (rate({consumed}[{RATE}]))", "{{service}}")], span=8),
            series("Consumed by event type (messages/s)", "rate() of liandong_consumed_messages_total by event type.",
                   [(f"sum by (event_type) (rate({consumed}[{RATE}]))", "{{event_type}}")], span=8),
            series("Consumed by outcome (messages/s)", "handled, duplicate (already applied) or dead_lettered.",
                   [(f"sum by (outcome) (rate({consumed}[{RATE}]))", "{{outcome}}")], span=8, stacked=True),
            series("Produced by service (messages/s)", "rate() of liandong_produced_messages_total by service.",
                   [(f"sum by (service) (rate({produced}[{RATE}]))", "{{service}}")]),
            series("Produced by event type (messages/s)", "rate() of liandong_produced_messages_total by event type.",
                   [(f"sum by (event_type) (rate({produced}[{RATE}]))", "{{event_type}}")]),
        ]),
        ("Processing latency", [
            series("Processing time p50 / p95 / p99", "Time to handle one consumed event, all selected services.",
                   quantiles("le"), unit="s", span=8),
            series("Processing time p95 by service", "95th percentile of liandong_processing_duration_seconds.",
                   [(f"histogram_quantile(0.95, sum by (service, le) (rate({processing}[{RATE}])))", "{{service}}")],
                   unit="s", span=8),
            series("Processing time p95 by event type", "95th percentile of liandong_processing_duration_seconds.",
                   [(f"histogram_quantile(0.95, sum by (event_type, le) (rate({processing}[{RATE}])))",
                     "{{event_type}}")], unit="s", span=8),
        ]),
        ("Failures and lag", [
            series("Dead letters by reason (messages/s)", "Messages written to liandong.deadletter, by service, topic and "
                   "reason.", [(f"sum by (service, topic, reason) (rate(liandong_dead_letters_total{{{SERVICE}}}[{RATE}]))",
                                "{{service}} {{topic}} {{reason}}")], stacked=True),
            series("Authorization denials (requests/s)", "Requests the broker refused for lack of an ACL, by service and "
                   "operation.", [(f"sum by (service, operation) (rate(liandong_authorization_denied_total{{{SERVICE}}}"
                                   f"[{RATE}]))", "{{service}} {{operation}}")]),
            series("Consumer lag by group and topic (messages)", "Messages not yet consumed, from the monitor service.",
                   [("sum by (group, topic) (liandong_consumer_lag_messages)", "{{group}} {{topic}}")], span=24,
                   height=9),
            series("Workers not ready", "Stream workers that have not joined their group or restored their tables "
                   "(1 - liandong_worker_ready), by service: 0 once each has; above it while one joins, rebalances or "
                   "restores (alert LiandongWorkerNotReady after 5 minutes).",
                   [(f"sum by (service) (1 - liandong_worker_ready{{{SERVICE}}})", "{{service}}")], span=24),
        ]),
    ])


# -- (b) unit SLA board ----------------------------------------------------------------------------------------
def unit_sla() -> dash.Dashboard:
    d = base("liandong-unit-sla", "Liandong · Unit SLA board",
             "Per handling unit: backlog, overdue cases by clock, sign-for latency and the share signed within 1, 5 "
             "and 15 days, on-time acceptance, objections, extensions and resolutions (《信访工作条例》 deadlines).",
             "now-24h", "1m")
    signfor = "liandong_handoff_signfor_latency_seconds"
    bucket, count = f"{signfor}_bucket{{{UNIT}}}", f"{signfor}_count{{{UNIT}}}"

    def within(days: int, by: str = "") -> str:
        group = f" by ({by}) " if by else ""
        return (f'sum{group}(rate({signfor}_bucket{{{UNIT}, le="{_le(days)}"}}[{RATE}])) / '
                f"sum{group}(rate({count}[{RATE}]))")

    shares = [(within(1), "within 1 day"), (within(5), "within 5 days"), (within(15), "within 15 days")]
    ratio = _thresholds((None, "red"), (0.8, "orange"), (0.95, "green"))
    return _add(d, [
        ("Backlog", [
            single("Open cases", "Cases the selected units lead that are not resolved.",
                   [(f"sum(liandong_open_cases{{{UNIT}}})", "")]),
            single("Overdue: acceptance notice", "Open cases past the 15-day acceptance-notice deadline (受理告知).",
                   [(f'sum(liandong_overdue_cases{{{UNIT}, clock="ACCEPTANCE_NOTICE"}})', "")],
                   thresholds=_thresholds((None, "green"), (1, "red"))),
            single("Overdue: handling", "Open cases past the handling deadline (办理期限, 60 days plus extensions).",
                   [(f'sum(liandong_overdue_cases{{{UNIT}, clock="HANDLING"}})', "")],
                   thresholds=_thresholds((None, "green"), (1, "red"))),
            single("Signed within 15 days", "Share of sign-fors made within 15 days of registration.",
                   [(within(15), "")], unit="percentunit", thresholds=ratio, interval=CASE_INTERVAL),
            series("Open cases by unit", "liandong_open_cases: the backlog of each unit.",
                   [(f"sum by (unit) (liandong_open_cases{{{UNIT}}})", "{{unit}}")]),
            series("Overdue cases by unit and clock", "liandong_overdue_cases: open cases past a deadline, by the clock "
                   "that is late.", [(f"sum by (unit, clock) (liandong_overdue_cases{{{UNIT}}})", "{{unit}} {{clock}}")]),
        ]),
        ("Sign-for and acceptance", [
            series("Sign-for latency p50 / p90 / p99", "From registration to the lead unit's sign-for (case time), from "
                   "the histogram.", [(f"histogram_quantile({q}, sum by (le) (rate({bucket}[{RATE}])))", f"p{int(q * 100)}")
                                      for q in (0.5, 0.9, 0.99)], unit="s", span=8, interval=CASE_INTERVAL),
            series("Sign-for latency p90 by unit", "90th percentile of the sign-for latency per unit.",
                   [(f"histogram_quantile(0.9, sum by (unit, le) (rate({bucket}[{RATE}])))", "{{unit}}")],
                   unit="s", span=8, interval=CASE_INTERVAL),
            series("Share signed within 1 / 5 / 15 days", "Histogram bucket ratios: sign-fors at or under 1, 5 and 15 "
                   "days over all sign-fors.", shares, unit="percentunit", span=8, interval=CASE_INTERVAL, soft_max=1),
            bars("Signed within 15 days by unit", "Share of each unit's sign-fors made within 15 days.",
                 [(within(15, "unit"), "{{unit}}")], unit="percentunit", thresholds=ratio, max_value=1,
                 interval=CASE_INTERVAL),
            bars("On-time acceptance by unit", "liandong_on_time_acceptance_ratio: share of acceptances made within 15 days.",
                 [(f"max by (unit) (liandong_on_time_acceptance_ratio{{{UNIT}}})", "{{unit}}")], unit="percentunit",
                 thresholds=ratio, max_value=1),
        ]),
        ("Answers", [
            series("Objections per hour by unit (异议)", "Objections to a handoff, by the objecting unit.",
                   [(f"sum by (unit) (increase(liandong_objections_total{{{UNIT}}}[{RATE}]))", "{{unit}}")],
                   span=8, bars=True, stacked=True, interval=CASE_INTERVAL),
            series("Extensions per hour by unit (延期)", "Approved extensions of the handling period.",
                   [(f"sum by (unit) (increase(liandong_extensions_total{{{UNIT}}}[{RATE}]))", "{{unit}}")],
                   span=8, bars=True, stacked=True, interval=CASE_INTERVAL),
            series("Resolutions per hour by outcome (办理意见)", "Written opinions issued: supported, explained, not "
                   "supported.", [(f"sum by (outcome) (increase(liandong_resolutions_total{{{UNIT}}}[{RATE}]))",
                                   "{{outcome}}")], span=8, bars=True, stacked=True, interval=CASE_INTERVAL),
            series("Resolutions per hour by unit and outcome", "Written opinions issued by each unit.",
                   [(f"sum by (unit, outcome) (increase(liandong_resolutions_total{{{UNIT}}}[{RATE}]))",
                     "{{unit}} {{outcome}}")], span=24, bars=True, stacked=True, interval=CASE_INTERVAL),
            bars("Satisfaction rate by unit (满意率)", "Satisfied and basically satisfied over every evaluation "
                 "recorded at the bureau's callbacks (回访), since the ledger started.",
                 [(f"sum by (unit) (liandong_callbacks_total{{{UNIT}, evaluation=~\"SATISFIED|BASICALLY_SATISFIED\"}}) / "
                   f"sum by (unit) (liandong_callbacks_total{{{UNIT}}})", "{{unit}}")], unit="percentunit", span=24,
                 thresholds=ratio, max_value=1),
        ]),
    ])


# -- (c) supervision ---------------------------------------------------------------------------------------------
def supervision() -> dash.Dashboard:
    d = base("liandong-supervision", "Liandong · Supervision",
             "Supervision (督查督办) by unit and action: reminders, notices, public listings and recommendations, with "
             "the overdue cases that prompt them.", "now-7d", "1m")
    actions = f"liandong_supervision_actions_total{{{UNIT}}}"
    return _add(d, [
        ("Supervision actions", [
            single("Supervision actions per hour", "Reminders, notices, listings and recommendations issued.",
                   [(f"sum(increase({actions}[{RATE}]))", "")], interval=CASE_INTERVAL, span=8),
            single("Overdue cases", "Open cases of the selected units past a deadline.",
                   [(f"sum(liandong_overdue_cases{{{UNIT}}})", "")], thresholds=_thresholds((None, "green"), (1, "red")),
                   span=8),
            single("Open cases", "Cases the selected units lead that are not resolved.",
                   [(f"sum(liandong_open_cases{{{UNIT}}})", "")], span=8),
            series("Actions per hour by action", "reminder (催办), notice (督办), listed (通报), recommendation (建议).",
                   [(f"sum by (action) (increase({actions}[{RATE}]))", "{{action}}")], bars=True, stacked=True,
                   interval=CASE_INTERVAL),
            series("Actions per hour by unit", "Every supervision action, by the unit supervised.",
                   [(f"sum by (unit) (increase({actions}[{RATE}]))", "{{unit}}")], bars=True, stacked=True,
                   interval=CASE_INTERVAL),
            series("Actions per hour by unit and action", "Which units draw which kind of supervision.",
                   [(f"sum by (unit, action) (increase({actions}[{RATE}]))", "{{unit}} {{action}}")], span=24,
                   bars=True, stacked=True, interval=CASE_INTERVAL),
            series("Overdue cases by unit", "liandong_overdue_cases summed over both clocks.",
                   [(f"sum by (unit) (liandong_overdue_cases{{{UNIT}}})", "{{unit}}")], span=24),
        ]),
    ])


# -- (d) mediation, packages and task teams ------------------------------------------------------------------------
def coordination() -> dash.Dashboard:
    d = base("liandong-coordination", "Liandong · Mediation, packages and task teams",
             "Joint mediation (联合调处) outcomes, responsibility packages (包案) closed by result and joint task team "
             "tasks by state.", "now-7d", "1m")
    tasks = "liandong_team_tasks_total"
    return _add(d, [
        ("Outcomes", [
            single("Mediations concluded per hour", "Joint mediations concluded, every result.",
                   [(f"sum(increase(liandong_mediation_outcomes_total[{RATE}]))", "")], span=8, interval=CASE_INTERVAL),
            single("Packages closed per hour", "Responsibility packages closed, every result.",
                   [(f"sum(increase(liandong_package_outcomes_total[{RATE}]))", "")], span=8, interval=CASE_INTERVAL),
            single("Team tasks completed / assigned", "Tasks completed over tasks assigned in the same window.",
                   [(f'sum(increase({tasks}{{state=~"(?i)completed"}}[{RATE}])) / '
                     f'sum(increase({tasks}{{state=~"(?i)assigned"}}[{RATE}]))', "")], unit="percentunit", span=8,
                   thresholds=_thresholds((None, "orange"), (0.9, "green")), interval=CASE_INTERVAL),
            series("Mediation outcomes per hour by result", "liandong_mediation_outcomes_total by result.",
                   [(f"sum by (result) (increase(liandong_mediation_outcomes_total[{RATE}]))", "{{result}}")],
                   span=8, bars=True, stacked=True, interval=CASE_INTERVAL),
            series("Package outcomes per hour by result", "liandong_package_outcomes_total by result.",
                   [(f"sum by (result) (increase(liandong_package_outcomes_total[{RATE}]))", "{{result}}")],
                   span=8, bars=True, stacked=True, interval=CASE_INTERVAL),
            series("Team tasks per hour by state", "assigned, acknowledged, completed.",
                   [(f"sum by (state) (increase({tasks}[{RATE}]))", "{{state}}")], span=8, bars=True,
                   interval=CASE_INTERVAL),
        ]),
    ])


#: File name (without .json) -> builder. The file name is the dashboard's uid.
DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "liandong-bus": bus,
    "liandong-unit-sla": unit_sla,
    "liandong-supervision": supervision,
    "liandong-coordination": coordination,
}


# -- output ---------------------------------------------------------------------------------------------------
def models() -> dict[str, dict[str, Any]]:
    """uid -> the dashboard's JSON model (plain dicts and lists)."""
    out = {}
    for uid, build in DASHBOARDS.items():
        model: dict[str, Any] = json.loads(json.dumps(build().build(), cls=JSONEncoder))
        if model["uid"] != uid:
            raise ValueError(f"dashboard {uid!r} has uid {model['uid']!r}")
        out[uid] = model
    return out


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[Path, str]:
    """Every dashboard file and its exact content."""
    return {OUT_DIR / f"{uid}.json": render(model) for uid, model in models().items()}


def _panels(model: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) for every target of every panel."""
    return [(uid, panel["title"], target["expr"])
            for uid, model in models().items()
            for panel in _panels(model)
            for target in panel.get("targets", [])]


def concrete(expr: str, rate_interval: str = "30s", variables: dict[str, str] | None = None) -> str:
    """The expression with Grafana's variables replaced, ready for Prometheus: `$__rate_interval` by
    `rate_interval`, every other `$name` / `${name}` by `variables[name]` (default `.*`, which the regex
    matchers `=~"$unit"` turn into "any unit")."""
    values = {"unit": ".*", "service": ".*", **(variables or {})}
    expr = expr.replace("$__rate_interval", rate_interval)

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for the Grafana variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only report files that are out of date (exit 1).")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
