"""The benchmark's results: tables for people, JSON for machines, a plot of growth."""

import json
from pathlib import Path

from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from todochat.bench.runner import Measurement

OURS = "todochat"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None or denominator == 0:
        return "-"
    return f"{numerator / denominator:.2f}x"


def _median(measurement: Measurement, contender: str, operation: str) -> float | None:
    stats = measurement.results.get(contender, {}).get(operation)
    return stats.median if stats else None


def tables(measurements: list[Measurement], backend: str) -> list[Table]:
    """One table per dataset size, and one of growth."""
    out = []
    for m in measurements:
        names = list(m.results)
        floor, anchors = names[1], names[2:]
        table = Table(
            title=f"{backend}, {m.factor}x data ({m.messages:,} messages, {m.tasks:,} tasks):"
            " median ms (p95, p99)"
        )
        for column in [
            "operation", OURS, floor, "ours / floor",
            *(c for a in anchors for c in (a, f"{a.split()[0]} / ours")),
        ]:  # fmt: skip
            table.add_column(column, justify="right")
        for operation, stats in m.results[OURS].items():
            ours = stats.median
            row = [
                operation,
                f"{ours:.3f} ({stats.p95:.3f}, {stats.p99:.3f})",
                _cell(m, floor, operation),
                _ratio(ours, _median(m, floor, operation)),
            ]
            for anchor in anchors:
                row += [_cell(m, anchor, operation), _ratio(_median(m, anchor, operation), ours)]
            table.add_row(*row)
        out.append(table)
    first = measurements[0]
    growth = Table(title=f"{backend}: todochat median ms as the data grows")
    growth.add_column("operation")
    for m in measurements:
        growth.add_column(f"{m.factor}x", justify="right")
    growth.add_column(f"{measurements[-1].factor}x / {first.factor}x", justify="right")
    for operation in first.results[OURS]:
        medians = [_median(m, OURS, operation) for m in measurements]
        growth.add_row(
            operation,
            *(f"{x:.3f}" if x is not None else "-" for x in medians),
            _ratio(medians[-1], medians[0]),
        )
    out.append(growth)
    memory = Table(title=f"{backend}: peak Python memory reading the latest 50 messages")
    memory.add_column("reader")
    for m in measurements:
        memory.add_column(f"{m.factor}x", justify="right")
    for reader in first.history_peak_bytes:
        memory.add_row(
            reader, *(f"{m.history_peak_bytes[reader] / 1024:,.0f} KiB" for m in measurements)
        )
    out.append(memory)
    return out


def _cell(m: Measurement, contender: str, operation: str) -> str:
    stats = m.results.get(contender, {}).get(operation)
    return f"{stats.median:.3f}" if stats else "-"


def markdown(measurements: list[Measurement], backend: str) -> str:
    """The tables as Markdown, for the README."""
    lines: list[str] = []
    for m in measurements:
        names = list(m.results)
        floor, others = names[1], names[2:]
        lines += [
            f"**{backend}, {m.factor}x data** ({m.messages:,} messages, {m.tasks:,} tasks),"
            " median ms:",
            "",
            "| operation | todochat (p95) | "
            + floor
            + " | ours / floor | "
            + " | ".join(f"{o} | {o.split()[0]} / ours" for o in others)
            + " |",
            "|---" * (4 + 2 * len(others)) + "|",
        ]
        for operation, stats in m.results[OURS].items():
            cells = [
                operation,
                f"{stats.median:.3f} ({stats.p95:.3f})",
                _cell(m, floor, operation),
                _ratio(stats.median, _median(m, floor, operation)),
            ]
            for other in others:
                cells += [
                    _cell(m, other, operation),
                    _ratio(_median(m, other, operation), stats.median),
                ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_json(measurements: list[Measurement], backend: str, path: Path) -> None:
    """Every number, for later comparison."""
    path.write_text(
        json.dumps({"backend": backend, "runs": [m.as_json() for m in measurements]}, indent=2)
    )


def plot(measurements: list[Measurement], backend: str, path: Path) -> None:
    """Median latency of each operation against dataset size: todochat solid, floor dashed."""
    figure = Figure(figsize=(9, 5.5))
    axes = figure.subplots()
    sizes = [m.messages for m in measurements]
    floor = list(measurements[0].results)[1]
    for index, operation in enumerate(measurements[0].results[OURS]):
        colour = f"C{index}"
        ours = [m.results[OURS][operation].median for m in measurements]
        axes.plot(sizes, ours, marker="o", color=colour, label=operation)
        bare = [m.results[floor][operation].median for m in measurements]
        axes.plot(sizes, bare, linestyle="--", color=colour, alpha=0.6)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("messages in the database")
    axes.set_ylabel("median latency (ms)")
    axes.set_title(f"todochat on {backend} (solid) and {floor} (dashed)")
    axes.grid(visible=True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def show(measurements: list[Measurement], backend: str, console: Console) -> None:
    """Print the tables."""
    for table in tables(measurements, backend):
        console.print(table)
