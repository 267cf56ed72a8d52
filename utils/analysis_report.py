"""What ``deploy_with_nodes.py ALGORITHM --analyze-only`` prints: tables for people, or JSON.

:func:`analysis_document` is the ``--json`` document (schema in
``docs/infrastructure/COMPUTE_NODES.md``, "Analysis JSON schema"); :func:`render_analysis`
is the human report: the requirements with the lines behind them, the memory breakdown in the
seed's layout, the recommendation per environment with costs, the configured nodes checked
(with a loud "does not fit"), the alternatives, and the assumptions and warnings.

Only commands import this module (it needs rich); the runtime never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from utils.console_report import money, plural
from utils.memory_model import MemoryEstimate, RunsOn
from utils.node_catalog import PRICES_AS_OF, Family, NodeSpec
from utils.node_optimizer import (
    AlgorithmRequirements,
    EnvironmentRecommendation,
    NodePlan,
    Recommendations,
    SourceLine,
    environments,
)

if TYPE_CHECKING:
    from rich.console import Console

    from utils.algorithm_analyzer import Subscription
    from utils.settings import Settings

SCHEMA = "qc-compute-nodes/analysis"
SCHEMA_VERSION = 1

#: Requirement rows of the report: (field, label).
_ROWS = (
    ("num_securities", "Securities"),
    ("num_option_chains", "Option chains"),
    ("contracts_per_chain", "Contracts per chain"),
    ("single_option_contracts", "Single option contracts"),
    ("resolution", "Resolution"),
    ("universe_selection", "Universe selection"),
    ("history", "History requests"),
    ("warm_up", "Warm-up"),
    ("scheduled_events", "Scheduled events"),
    ("use_greeks", "Greeks"),
    ("use_scanners", "Scanners"),
    ("use_llm_analysis", "LLM analysis"),
    ("use_ml_training", "ML training"),
    ("needs_gpu", "GPU"),
    ("use_risk_management", "Risk management"),
    ("use_spread_tracker", "Spread tracker"),
    ("use_profit_taking", "Profit taking"),
)


def plan_for(algorithm: Path, settings: Settings) -> NodePlan:
    """Analyse ``algorithm`` and plan its nodes with ``settings``.

    Raises:
        AnalysisError: The algorithm cannot be analysed (see ``analyze_algorithm``).
    """
    from utils.algorithm_analyzer import analyze_algorithm
    from utils.node_optimizer import NodeOptimizer

    requirements = analyze_algorithm(algorithm, settings)
    return NodeOptimizer(settings).plan(requirements)


def print_analysis(plan: NodePlan, console: Console, *, as_json: bool) -> None:
    """Print the report on ``console``, or the JSON document on standard output."""
    if as_json:
        import json
        import sys

        sys.stdout.write(json.dumps(analysis_document(plan), indent=2) + "\n")
    else:
        console.print(render_analysis(plan))


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def analysis_document(plan: NodePlan) -> dict[str, Any]:
    """Return the analysis and the recommendations as one JSON-ready document."""
    requirements = plan.requirements
    recommendations = plan.recommendations
    recs = {
        rec["environment"]: _recommendation_record(rec) for rec in environments(recommendations)
    }
    live = recommendations["live_trading"]["memory"]
    total = recommendations["total_monthly_cost"]
    warnings = [*plan.warnings, *requirements.warnings]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "algorithm": _algorithm_record(requirements),
        "requirements": requirements_record(requirements),
        "memory": _memory_record(live, recommendations),
        "recommendations": recs,
        "total_monthly_cost": total,
        "total_annual_cost": 12 * total,
        "configured_monthly_cost": plan.configured_monthly_cost,
        "configured_annual_cost": 12 * plan.configured_monthly_cost,
        "alternatives": [
            {
                "key": alt.key,
                "title": alt.title,
                "rule": alt.rule,
                "fits": alt.fits,
                "total_monthly_cost": alt.total_monthly_cost,
                "total_annual_cost": 12 * alt.total_monthly_cost,
                "lines": [
                    {
                        "role": line.role,
                        "family": line.family.value,
                        "node": line.node.model if line.node else None,
                        "count": line.count,
                        "monthly_cost": line.monthly_cost,
                        "note": line.note,
                    }
                    for line in alt.lines
                ],
            }
            for alt in plan.alternatives
        ],
        "optimization": None
        if plan.optimization is None
        else {
            "node": plan.optimization.node.model,
            "hourly_cost": plan.optimization.node.price,
            "max_parallel": plan.optimization.node.max_parallel,
            "estimated_memory_mb": plan.optimization.estimate_mb,
            "warning_limit_mb": plan.optimization.warning_limit_mb,
        },
        "prices_as_of": sorted(
            {_node_of(rec).price_as_of for rec in environments(recommendations)} | {PRICES_AS_OF}
        ),
        "warnings": list(dict.fromkeys(warnings)),
    }


def requirements_record(requirements: AlgorithmRequirements) -> dict[str, Any]:
    """Return the requirements (and the analyzer's detail, if any) as JSON-ready data."""
    record: dict[str, Any] = {
        "num_securities": requirements.num_securities,
        "num_option_chains": requirements.num_option_chains,
        "contracts_per_chain": requirements.contracts_per_chain,
        "single_option_contracts": requirements.single_option_contracts,
        "total_option_contracts": requirements.total_option_contracts,
        "resolution": requirements.resolution,
        "use_greeks": requirements.use_greeks,
        "use_scanners": requirements.use_scanners,
        "use_llm_analysis": requirements.use_llm_analysis,
        "use_ml_training": requirements.use_ml_training,
        "use_risk_management": requirements.use_risk_management,
        "use_spread_tracker": requirements.use_spread_tracker,
        "use_profit_taking": requirements.use_profit_taking,
        "ui_dashboard": requirements.ui_dashboard,
        "needs_gpu": requirements.needs_gpu,
        "min_cores": requirements.min_cores,
        "sources": {
            name: [_source(line) for line in lines] for name, lines in requirements.sources.items()
        },
        "assumptions": list(requirements.assumptions),
        "warnings": list(requirements.warnings),
    }
    analysis = requirements.analysis
    if analysis is None:
        return record
    record["option_chains"] = [
        {
            "kind": c.kind,
            "underlying": c.underlying,
            "target": c.target,
            "count": c.count,
            "exact": c.exact,
            "contracts_per_chain": c.contracts,
            "contracts_exact": c.contracts_exact,
            "model": c.model,
            "resolution": c.resolution,
            "source": _source(c.source),
            "filter_source": _source(c.filter_source) if c.filter_source else None,
            "note": c.note,
        }
        for c in analysis.option_chains
    ]
    record["securities"] = [_subscription(s) for s in analysis.securities]
    record["option_contracts"] = [_subscription(s) for s in analysis.option_contracts]
    record["universes"] = [
        {
            "kind": u.kind,
            "size": u.size,
            "exact": u.exact,
            "note": u.note,
            "source": _source(u.source),
        }
        for u in analysis.universes
    ]
    for key in ("history_requests", "warm_ups", "scheduled_events", "ml_libraries", "llm_apis"):
        record[key] = [
            {"summary": f.summary, "size": f.size, "source": _source(f.source)}
            for f in getattr(analysis, key)
        ]
    return record


def _algorithm_record(requirements: AlgorithmRequirements) -> dict[str, Any] | None:
    analysis = requirements.analysis
    if analysis is None:
        return None
    return {
        "path": analysis.path,
        "class": analysis.class_name,
        "line": analysis.class_line,
        "files": list(analysis.files),
    }


def _memory_record(live: MemoryEstimate, recommendations: Recommendations) -> dict[str, Any]:
    return {
        "components": [
            {"key": line.key, "label": line.label, "mb": line.mb, "runs_on": line.runs_on.value}
            for line in live.lines
        ],
        "total_mb": live.components_mb,
        "node_mb": live.node_components_mb,
        "desktop_mb": live.desktop_mb,
        "by_environment": {
            rec["environment"]: {
                "multiplier": rec["multiplier"],
                "node_mb": rec["estimated_memory_mb"],
            }
            for rec in environments(recommendations)
        },
    }


def _recommendation_record(rec: EnvironmentRecommendation) -> dict[str, Any]:
    node = rec["node"]
    configured = rec["configured"]
    return {
        "node": node.model if node else None,
        "cores": node.cores if node else None,
        "ram_gb": node.ram_gb if node else None,
        "gpu": node.gpu_share if node else None,
        "monthly_cost": rec["monthly_cost"],
        "annual_cost": rec["annual_cost"],
        "estimated_memory_mb": rec["estimated_memory_mb"],
        "multiplier": rec["multiplier"],
        "warning_pct": rec["warning_pct"],
        "warning_limit_mb": rec["warning_limit_mb"],
        "headroom_mb": rec["headroom_mb"],
        "used_pct": rec["used_pct"],
        "required_cores": rec["required_cores"],
        "requires_gpu": rec["requires_gpu"],
        "fits": rec["fits"],
        "binding_constraint": rec["binding_constraint"],
        "reason": rec["reason"],
        "configured_node_fits": rec["configured_node_fits"],
        "configured": {**configured, "node": configured["node"].model},
    }


def _subscription(item: Subscription) -> dict[str, Any]:
    return {
        "asset": item.asset,
        "ticker": item.ticker,
        "count": item.count,
        "exact": item.exact,
        "resolution": item.resolution,
        "note": item.note,
        "source": _source(item.source),
    }


def _source(line: SourceLine) -> dict[str, Any]:
    return {"file": line.file, "line": line.line, "code": line.code, "note": line.note}


def _node_of(rec: EnvironmentRecommendation) -> NodeSpec:
    return rec["node"] or rec["configured"]["node"]


# --------------------------------------------------------------------------------------------
# Tables for people
# --------------------------------------------------------------------------------------------


def render_analysis(plan: NodePlan) -> RenderableType:
    """Return the whole human report as one renderable (readable at 80 columns)."""
    requirements = plan.requirements
    parts: list[RenderableType] = [_header(requirements), requirements_table(requirements)]
    if requirements.assumptions:
        parts.append(
            _bullets(
                "Assumptions (what the code does not show)", requirements.assumptions, "yellow"
            )
        )
    parts.append(memory_table(plan))
    parts.append(recommendations_panel(plan))
    warnings = list(dict.fromkeys([*plan.warnings, *requirements.warnings]))
    if warnings:
        parts.append(_warnings_panel(plan, warnings))
    parts.append(cost_table(plan))
    parts.append(alternatives_view(plan))
    if plan.optimization is not None:
        node = plan.optimization.node
        parts.append(
            Text(
                f"Optimization: {node.model} ({node.price_text()}) is the cheapest optimization "
                f"node that fits one backtest ({plan.optimization.estimate_mb:,.0f} MB); "
                "--type optimize shows the cost of a run (the LEAN CLI's formula).",
                style="dim",
            )
        )
    return Group(*_spaced(parts))


def requirements_table(requirements: AlgorithmRequirements) -> Table:
    """Return what the algorithm needs, each figure with the source lines behind it."""
    table = Table(
        title="Requirements", box=None, title_justify="left", show_header=False, padding=(0, 1)
    )
    table.add_column("Requirement", no_wrap=True, style="bold")
    table.add_column("Value", ratio=1)
    unused: list[str] = []
    main = requirements.analysis.path if requirements.analysis else None
    for field, label in _ROWS:
        value = _value_text(requirements, field)
        if value is None:
            continue
        if value == "no":
            unused.append(label)
            continue
        lines = _source_lines(requirements.sources.get(field, ()), main)
        table.add_row(label, Group(Text(value), *lines))
    if unused:
        table.add_row("Not used", Text(", ".join(unused), style="dim"))
    return table


def memory_table(plan: NodePlan) -> Table:
    """Return the seed's "Memory Requirements Breakdown" for this algorithm."""
    recommendations = plan.recommendations
    live = recommendations["live_trading"]
    estimate = live["memory"]
    requirements = plan.requirements
    table = Table(
        title="Memory Requirements Breakdown",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("Component", no_wrap=True, min_width=36)
    table.add_column("Memory (MB)", justify="right", no_wrap=True)
    for line in estimate.lines:
        label = line.label
        if line.runs_on is RunsOn.DESKTOP:
            label += " (desktop)"
        table.add_row(label, f"{line.mb:,.0f}")
    table.add_section()
    table.add_row(Text("TOTAL"), _mb_gb(estimate.components_mb), style="bold")
    table.add_row("On a live node (no desktop part)", _mb_gb(estimate.node_mb))
    for rec in environments(recommendations)[:2]:
        family = Family(rec["environment"])
        why = "data caching" if family is Family.BACKTESTING else "history in memory"
        table.add_row(
            f"{family.label.capitalize()} (x{rec['multiplier']:g}, {why})",
            _mb_gb(rec["estimated_memory_mb"]),
        )
    table.add_section()
    configured = live["configured"]
    node = configured["node"]
    pct = f"{live['warning_pct']:g} %"
    table.add_row(f"Node Capacity ({node.model}, configured)", _mb_gb(node.ram_mb))
    table.add_row(
        f"Warning level ({pct} of {node.model})",
        Text(
            _mb_gb(configured["warning_limit_mb"]),
            style="green" if configured["fits"] else "bold red",
        ),
    )
    recommended = live["node"]
    if recommended is not None and recommended.model != node.model:
        table.add_row(f"Recommended ({recommended.model})", _mb_gb(recommended.ram_mb))
    table.caption = (
        f"For {plural(requirements.num_option_chains, 'option chain')} x "
        f"{requirements.contracts_per_chain:,} contracts and "
        f"{plural(requirements.num_securities, 'security', 'securities')}. "
        "The dashboard runs on your desktop, not on a node."
    )
    table.caption_justify = "left"
    return table


def recommendations_panel(plan: NodePlan) -> Panel:
    """Return the recommended node per environment, the seed's box, with the reasons."""
    parts: list[RenderableType] = []
    for rec in environments(plan.recommendations):
        family = Family(rec["environment"])
        heading = Text(f"{family.label.upper()}: ", style="bold")
        details: list[RenderableType] = []
        node = rec["node"]
        if node is None:
            heading.append("no node fits", style="bold red")
        else:
            ghz = f" @ {node.ghz:.1f} GHz" if node.ghz else ""
            gpu = f", GPU {node.gpu_share}" if node.gpu_share else ""
            heading.append(node.model, style="bold cyan")
            heading.append(f"  {plural(node.cores, 'core')}{ghz}, {node.ram_gb:g} GB RAM{gpu}, ")
            heading.append(f"{money(node.price)}/month", style="bold")
            heading.append(f" ({money(12 * node.price)}/year)")
            details.append(
                Text(
                    f"Needs {rec['estimated_memory_mb']:,.0f} MB: "
                    f"{rec['headroom_mb'] or 0:,.0f} MB headroom below the "
                    f"{rec['warning_pct']:g} % warning level. "
                    f"Binding constraint: {rec['binding_constraint']}."
                )
            )
        details.append(_configured_mark(rec))
        details.append(Text(f"Why: {rec['reason']}", style="dim"))
        parts.extend([heading, Padding(Group(*details), (0, 0, 1, 2))])
    total = plan.recommendations["total_monthly_cost"]
    footer = Text(
        f"TOTAL MONTHLY COST: {money(total)}/month ({money(12 * total)}/year)", style="bold"
    )
    footer.append(f"; configured nodes: {money(plan.configured_monthly_cost)}/month", style="")
    parts.append(footer)
    return Panel(Group(*parts), title="Recommended nodes", title_align="left", expand=False)


def cost_table(plan: NodePlan) -> Table:
    """Return the seed's "Cost Breakdown": recommended and configured, monthly and annual."""
    table = Table(title="Cost breakdown", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Service")
    table.add_column("Recommended", justify="right")
    table.add_column("Annual", justify="right")
    table.add_column("Configured", justify="right")
    table.add_column("Annual", justify="right")
    for rec in environments(plan.recommendations):
        family = Family(rec["environment"])
        node = rec["node"]
        configured = rec["configured"]
        price = rec["monthly_cost"]
        table.add_row(
            family.label.capitalize(),
            f"{node.model} {money(price)}" if node is not None and price is not None else "-",
            money(12 * price) if price is not None else "-",
            f"{configured['node'].model} {money(configured['monthly_cost'])}",
            money(12 * configured["monthly_cost"]),
        )
    table.add_section()
    total = plan.recommendations["total_monthly_cost"]
    configured_total = plan.configured_monthly_cost
    table.add_row(
        "TOTAL",
        money(total),
        money(12 * total),
        money(configured_total),
        money(12 * configured_total),
        style="bold",
    )
    return table


def alternatives_view(plan: NodePlan) -> Group:
    """Return the seed's alternative configurations, computed from the model and the catalog."""
    parts: list[RenderableType] = [Text("Alternative configurations", style="bold")]
    for alt in plan.alternatives:
        heading = Text(f"{alt.title}: {money(alt.total_monthly_cost)}/month", style="bold")
        heading.append(f" ({money(12 * alt.total_monthly_cost)}/year)", style="")
        if not alt.fits:
            heading.append("  some roles have no node that fits", style="bold red")
        lines = Table(box=None, show_header=False, padding=(0, 2), pad_edge=True)
        lines.add_column("Role", no_wrap=True)
        lines.add_column("Cost", justify="right")
        lines.add_column("Note", style="dim")
        for line in alt.lines:
            if line.node is None:
                what = "none fits" if line.count else "none"
                lines.add_row(f"{line.role} ({what})", money(0), line.note)
            else:
                count = f" x{line.count}" if line.count > 1 else ""
                lines.add_row(
                    f"{line.role} ({line.node.model}){count}", money(line.monthly_cost), line.note
                )
        parts.extend([heading, lines, Padding(Text(alt.rule, style="dim"), (0, 0, 0, 2))])
    return Group(*parts)


def _configured_mark(rec: EnvironmentRecommendation) -> Text:
    configured = rec["configured"]
    node = configured["node"]
    if configured["fits"]:
        text = Text(f"Configured {node.model}: fits", style="green")
        recommended = rec["node"]
        if recommended is not None and recommended.price < node.price:
            saving = node.price - recommended.price
            text.append(
                f" (the cheaper {recommended.model} does too: saves {money(saving)}/month)",
                style="yellow",
            )
        return text
    text = Text(f"Configured {node.model}: DOES NOT FIT", style="bold red")
    text.append(
        f" ({configured['estimated_memory_mb']:,.0f} MB needed, "
        f"{configured['warning_limit_mb']:,.0f} MB below its warning level)",
        style="red",
    )
    return text


def _header(requirements: AlgorithmRequirements) -> Text:
    analysis = requirements.analysis
    text = Text()
    if analysis is None:
        text.append("Node recommendations", style="bold")
        return text
    text.append(f"Algorithm analysis: {analysis.path}\n", style="bold")
    others = len(analysis.files) - 1
    more = f", {others} more project file{'s' if others != 1 else ''} read" if others else ""
    text.append(
        f"class {analysis.class_name} (line {analysis.class_line}){more}. "
        "Read with Python's ast: nothing was executed.",
        style="dim",
    )
    return text


def _value_text(requirements: AlgorithmRequirements, field: str) -> str | None:
    analysis = requirements.analysis
    simple = {
        "num_securities": f"{requirements.num_securities:,}",
        "num_option_chains": f"{requirements.num_option_chains:,}",
        "resolution": requirements.resolution,
    }
    if field in simple:
        return simple[field]
    if field == "contracts_per_chain":
        if not requirements.num_option_chains:
            return None
        text = f"{requirements.contracts_per_chain:,}"
        if analysis is not None and analysis.option_chains:
            largest = max(analysis.option_chains, key=lambda c: c.contracts)
            text += f" ({largest.underlying or largest.kind}: {largest.model})"
        return text
    if field == "single_option_contracts":
        count = requirements.single_option_contracts
        return f"{count:,}" if count else None
    if analysis is None:
        value = getattr(requirements, field, None)
        return None if value is None else ("yes" if value else "no")
    findings = {
        "universe_selection": [f"{u.kind}: {u.size:,}" for u in analysis.universes],
        "history": [f.summary for f in analysis.history_requests],
        "warm_up": [f.summary for f in analysis.warm_ups],
        "scheduled_events": [_event_name(f.summary) for f in analysis.scheduled_events],
    }
    if field in findings:
        return "; ".join(findings[field]) or None
    value = bool(getattr(requirements, field))
    if field == "use_llm_analysis" and value:
        providers = dict.fromkeys(f.summary.split(" (")[0] for f in analysis.llm_apis)
        return "yes: " + ", ".join(providers)
    if field == "use_ml_training":
        libraries = ", ".join(
            dict.fromkeys(f.summary.split(" (")[0] for f in analysis.ml_libraries)
        )
        if value:
            return "yes" + (f": {libraries}" if libraries else "")
        return f"inference only ({libraries})" if libraries else "no"
    return "yes" if value else "no"


def _event_name(summary: str) -> str:
    """Return ``training: self.fit`` from ``training: self.fit (rules...)``."""
    return summary.split(" (", 1)[0]


def _source_lines(lines: tuple[SourceLine, ...], main: str | None) -> list[Text]:
    """Return up to three source lines as ``line 14  code`` (other files with their path)."""
    root = Path(main).parent if main else None
    out = []
    for line in lines[:3]:
        text = Text("  ", no_wrap=True, overflow="ellipsis")
        where = f"line {line.line}"
        if line.file != main:
            path = Path(line.file)
            shown = path.relative_to(root) if root and path.is_relative_to(root) else path
            where = f"{shown.as_posix()}:{line.line}"
        text.append(where, style="cyan")
        text.append(f"  {line.code}", style="dim")
        if line.note:
            text.append(f"  ({line.note})", style="dim italic")
        out.append(text)
    if len(lines) > 3:
        out.append(Text(f"  ... and {len(lines) - 3} more", style="dim"))
    return out


def _warnings_panel(plan: NodePlan, warnings: list[str]) -> Panel:
    body = Text()
    for i, warning in enumerate(warnings):
        if i:
            body.append("\n")
        body.append("! ", style="bold red")
        body.append(warning)
    fits = all(rec["configured"]["fits"] for rec in environments(plan.recommendations))
    title = "Warnings" if fits else "Warnings: a configured node does not fit"
    return Panel(body, title=title, title_align="left", border_style="red", expand=False)


def _bullets(title: str, items: tuple[str, ...] | list[str], style: str) -> Text:
    text = Text(title, style=f"bold {style}")
    for item in items:
        text.append(f"\n  - {item}", style="")
    return text


def _spaced(parts: list[RenderableType]) -> list[RenderableType]:
    spaced: list[RenderableType] = []
    for part in parts:
        if spaced:
            spaced.append(Text(""))
        spaced.append(part)
    return spaced


def _mb_gb(mb: float) -> str:
    return f"{mb:,.0f} MB ({mb / 1024:.1f} GB)"
