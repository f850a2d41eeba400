"""When snapshots are due: cron's five fields, in UTC, for payloads/webui-backup.py.

Also read by the settings (settings/backup.py loads this file), so a schedule the settings accept
is one the backup container can follow. The standard library only: it runs in the Open WebUI
image.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


def parse_schedule(text: str) -> tuple[frozenset[int], ...]:
    """Cron's five fields (numbers, *, ranges a-b, steps /n, lists) or @hourly/@daily/@weekly."""
    parts = MACROS.get(text.strip(), text).split()
    if len(parts) != 5:
        raise ValueError(f"needs five fields (minute hour day month weekday), got {len(parts)}")
    sets = tuple(_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True))
    weekdays = frozenset(day % 7 for day in sets[4])  # 7 is Sunday too
    # As cron: when both day and weekday are restricted, either one matching is enough.
    either = parts[2] != "*" and parts[4] != "*"
    flags = frozenset({-1}) if either else frozenset()
    if next_run((*sets[:4], weekdays, flags), datetime(2000, 1, 1, tzinfo=timezone.utc)) is None:
        raise ValueError("never matches a real date")
    return (*sets[:4], weekdays, flags)


def _field(part: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in part.split(","):
        span, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = low, high
            elif "-" in span:
                first, last = (int(value) for value in span.split("-", 1))
            else:
                first = last = int(span)
        except ValueError:
            raise ValueError(f"{name} '{item}' is not a number, range or */step") from None
        if step < 1:
            raise ValueError(f"{name} '{item}' has a step below 1")
        if not low <= first <= last <= high:
            raise ValueError(f"{name} '{item}' is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def next_run(spec: tuple[frozenset[int], ...], after: datetime) -> datetime | None:
    """The first minute after `after` that the schedule matches; None if there is none within
    eight years (the longest gap between two 29 Februaries)."""
    minutes, hours, days, months, weekdays, flags = spec
    at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while at.year <= after.year + 8:
        day_ok, weekday_ok = at.day in days, (at.weekday() + 1) % 7 in weekdays
        if at.month not in months:
            at = (at.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        elif not ((day_ok or weekday_ok) if flags else (day_ok and weekday_ok)):
            at = at.replace(hour=0, minute=0) + timedelta(days=1)
        elif at.hour not in hours:
            at = at.replace(minute=0) + timedelta(hours=1)
        elif at.minute not in minutes:
            at += timedelta(minutes=1)
        else:
            return at
    return None
