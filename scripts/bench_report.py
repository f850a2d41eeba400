"""`make bench`'s figures and table: the stack against its floor and kubectl, with the slowest
steps of each median round."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from bench_timeline import Timeline

# Steps of the timeline printed per `up` (BENCH_STEPS=40 shows the whole chain of a stack).
SLOWEST = int(os.environ.get("BENCH_STEPS", "5"))
ROWS = ("preview", "up", "no-change up")  # per stack and per floor ("floor up")
FLOORS = ("floor", "chain floor")  # scripts/bench.py says what each one is


@dataclass
class StackFigures:
    target: str
    objects: int = 0
    workloads: int = 0  # StatefulSets and Deployments among the objects
    charts: int = 0  # Helm v4 Charts (their objects are among the objects)
    seconds: dict[str, float] = field(default_factory=dict)  # kubectl rows
    # "up", "floor up", ...: the timeline of each round
    timelines: dict[str, list[Timeline]] = field(default_factory=dict)

    def rounds(self, label: str) -> list[float]:
        return [timeline.seconds for timeline in self.timelines[label]]

    def median(self, label: str) -> float:
        return statistics.median(self.rounds(label))

    def median_timeline(self, label: str) -> Timeline:
        """The round whose total is the median (the lower one of an even number of rounds)."""
        ordered = sorted(self.timelines[label], key=lambda t: t.seconds)
        return ordered[(len(ordered) - 1) // 2]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:5.2f}x" if denominator else "    -"


def print_stack(figures: StackFigures) -> None:
    seconds = figures.seconds
    print(
        f"\n== {figures.target}: {figures.objects} Kubernetes objects; floor = "
        f"{figures.objects} ConfigMaps; chain floor = {figures.workloads} of them StatefulSets "
        f"and Deployments after a ConfigMap each, {figures.charts} Helm v4 Charts; median of "
        f"{len(figures.rounds('up'))} rounds =="
    )
    print(
        f"  {'':14s} {'stack':>8s} {'floor':>8s} {'x':>7s} {'chain':>8s} {'x':>7s}"
        "   rounds: stack | floor | chain floor"
    )
    for row in ROWS:
        stack = figures.median(row)
        columns = "".join(
            f" {figures.median(f'{floor} {row}'):7.2f}s "
            f"{ratio(stack, figures.median(f'{floor} {row}')):>7s}"
            for floor in FLOORS
        )
        each = " | ".join(
            " ".join(f"{s:.2f}" for s in figures.rounds(label))
            for label in (row, *(f"{floor} {row}" for floor in FLOORS))
        )
        print(f"  {row:14s} {stack:7.2f}s{columns}   {each}")
    dry, full = seconds["kubectl apply --dry-run=server"], seconds["kubectl apply + rollout status"]
    print(
        f"  kubectl apply --dry-run=server   {dry:7.2f}s   "
        f"preview / it {ratio(figures.median('preview'), dry)}"
    )
    print(
        f"  kubectl apply + rollout status   {full:7.2f}s   "
        f"up / it      {ratio(figures.median('up'), full)}"
    )
    for label in [name for row in ROWS for name in (row, *(f"{f} {row}" for f in FLOORS))]:
        timeline = figures.median_timeline(label)
        phases = ", ".join(f"{name} {value:.2f}s" for name, value in timeline.phases().items())
        print(f"  timeline of `{label}` ({timeline.seconds:.2f}s): {phases}")
        steps = timeline.steps()
        if steps and steps[0][0] >= 0.05:  # a preview's steps end as they begin: no lines
            for seconds_, op, resource, start in steps[:SLOWEST]:
                print(f"      {seconds_:6.2f}s  from +{start:5.2f}s  {op:8s} {resource}")
