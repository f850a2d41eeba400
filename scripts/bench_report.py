"""`make bench`'s table: the stack against its floor and kubectl, with the slowest steps."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench import StackFigures

SLOWEST = 5  # steps of the timeline printed per `up`
ROWS = ("preview", "up", "no-change up")  # per stack and per floor ("floor up")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:5.2f} x" if denominator else "    -"


def print_stack(figures: StackFigures) -> None:
    seconds = figures.seconds
    print(
        f"\n== {figures.target}: {figures.objects} Kubernetes objects; floor = "
        f"{figures.objects} ConfigMaps; median of {len(figures.rounds('up'))} rounds =="
    )
    print(f"  {'':16s} {'stack':>8s} {'floor':>8s} {'stack/floor':>12s}   rounds: stack | floor")
    for row in ROWS:
        stack, floor = figures.median(row), figures.median(f"floor {row}")
        each = " ".join(f"{s:.2f}" for s in figures.rounds(row))
        each_floor = " ".join(f"{s:.2f}" for s in figures.rounds(f"floor {row}"))
        print(
            f"  {row:16s} {stack:7.2f}s {floor:7.2f}s {ratio(stack, floor):>12s}   "
            f"{each} | {each_floor}"
        )
    dry, full = seconds["kubectl apply --dry-run=server"], seconds["kubectl apply + rollout status"]
    print(
        f"  kubectl apply --dry-run=server   {dry:7.2f}s   "
        f"preview / it {ratio(figures.median('preview'), dry)}"
    )
    print(
        f"  kubectl apply + rollout status   {full:7.2f}s   "
        f"up / it      {ratio(figures.median('up'), full)}"
    )
    for label in [name for row in ROWS for name in (row, f"floor {row}")]:
        timeline = figures.median_timeline(label)
        phases = ", ".join(f"{name} {value:.2f}s" for name, value in timeline.phases().items())
        print(f"  timeline of `{label}` ({timeline.seconds:.2f}s): {phases}")
        steps = timeline.steps()
        if steps and steps[0][0] >= 0.05:  # a preview's steps end as they begin: no lines
            for seconds_, op, resource, start in steps[:SLOWEST]:
                print(f"      {seconds_:6.2f}s  from +{start:5.2f}s  {op:8s} {resource}")
