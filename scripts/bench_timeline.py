"""`make bench`'s timeline: the engine events of a streamed `--json` preview or up, stamped as
they arrive, turned into phases and the slowest steps."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field

from engine_stack import Stack


@dataclass
class Timeline:
    """One `pulumi up --json`: its engine events with the second each one arrived."""

    seconds: float = 0.0
    events: list[tuple[float, dict]] = field(default_factory=list)

    def steps(self) -> list[tuple[float, str, str, float]]:
        """(seconds, operation, resource, start) from each resource's first event to its
        outputs; `start` is seconds after the command started, so a chain of waits shows."""
        started: dict[str, tuple[float, str]] = {}
        done: list[tuple[float, str, str, float]] = []
        for at, event in self.events:
            pre = event.get("resourcePreEvent")
            if pre:
                meta = pre["metadata"]
                started.setdefault(meta["urn"], (at, meta.get("op", "?")))
            for key in ("resOutputsEvent", "resOpFailedEvent"):
                if key in event:
                    urn = event[key]["metadata"]["urn"]
                    if urn in started:
                        began, op = started.pop(urn)
                        done.append((at - began, op, short_urn(urn), began))
        return sorted(done, reverse=True)

    def phases(self) -> dict[str, float]:
        """Where the seconds went: engine start; Python, the SDK and the program's synchronous
        part (the SDK sends the Stack's registration only once that part returned); resources
        (to the last outputs); finishing (state file, plugin shutdown)."""
        start = self.events[0][0] if self.events else self.seconds
        stack = next(
            (
                at
                for at, e in self.events
                if "resourcePreEvent" in e
                and e["resourcePreEvent"]["metadata"].get("type") == "pulumi:pulumi:Stack"
            ),
            start,
        )
        done = [at for at, e in self.events if "resOutputsEvent" in e or "resOpFailedEvent" in e]
        last = max(done, default=stack)
        return {
            "engine start": start,
            "python + program": stack - start,
            "resources": last - stack,
            "finish": self.seconds - last,
        }


def short_urn(urn: str) -> str:
    """`urn:pulumi:stack::project::parent$type::name` -> `type name`."""
    parts = urn.split("::")
    return f"{parts[-2].split('$')[-1]} {parts[-1]}" if len(parts) >= 4 else urn


def up_with_timeline(stack: Stack, *extra: str) -> Timeline:
    return with_timeline(stack, "up", "--yes", "--skip-preview", *extra)


def with_timeline(stack: Stack, command: str, *extra: str) -> Timeline:
    cmd = [
        str(stack.bin_dir / "pulumi"),
        command,
        "--json",
        "--stack",
        stack.name,
        "--non-interactive",
        *extra,
    ]
    # `preview --json` prints one document at the end unless asked to stream its events.
    env = {**stack.env, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    timeline = Timeline()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=stack.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    other: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        at = time.monotonic() - started
        try:
            timeline.events.append((at, json.loads(line)))
        except json.JSONDecodeError:
            other.append(line)
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    timeline.seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {proc.returncode}\n{''.join(other)[-3000:]}\n{stderr[-3000:]}"
        )
    return timeline
