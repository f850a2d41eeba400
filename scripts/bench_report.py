"""`make bench`'s table: the stack against its floor and kubectl, with the slowest steps."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench import StackFigures

SLOWEST = 5  # steps of the timeline printed per `up`


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:5.2f} x" if denominator else "    -"


def print_stack(figures: StackFigures) -> None:
    seconds, floor = figures.seconds, figures.floor
    print(
        f"\n== {figures.target}: {figures.objects} Kubernetes objects; floor = "
        f"{figures.objects} ConfigMaps =="
    )
    print(f"  {'':16s} {'stack':>8s} {'floor':>8s} {'stack/floor':>12s}")
    for row in ("preview", "up", "no-change up"):
        print(
            f"  {row:16s} {seconds[row]:7.2f}s {floor[row]:7.2f}s "
            f"{ratio(seconds[row], floor[row]):>12s}"
        )
    dry, full = seconds["kubectl apply --dry-run=server"], seconds["kubectl apply + rollout status"]
    print(
        f"  kubectl apply --dry-run=server   {dry:7.2f}s   "
        f"preview / it {ratio(seconds['preview'], dry)}"
    )
    print(
        f"  kubectl apply + rollout status   {full:7.2f}s   "
        f"up / it      {ratio(seconds['up'], full)}"
    )
    for label in (
        "preview",
        "floor preview",
        "up",
        "floor up",
        "no-change up",
        "floor no-change up",
    ):
        timeline = figures.timelines[label]
        phases = ", ".join(f"{name} {value:.2f}s" for name, value in timeline.phases().items())
        print(f"  timeline of `{label}` ({timeline.seconds:.2f}s): {phases}")
        steps = timeline.steps()
        if steps and steps[0][0] >= 0.05:  # a preview's steps end as they begin: no lines
            for seconds_, op, resource, start in steps[:SLOWEST]:
                print(f"      {seconds_:6.2f}s  from +{start:5.2f}s  {op:8s} {resource}")
