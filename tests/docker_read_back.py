"""What the Docker provider reads back from the engine for the fields it diffs, in Python.

terraform-provider-docker v4.5.0 (the upstream of pulumi-docker 5.x): its container read, which
formats NanoCPUs, memory, durations and the health check back into the resource's fields. A
container input that differs from this form is a diff on every `up`; for `cpus` and `healthcheck` a
replacement. Used by tests/test_docker.py on rendered inputs and by the engine tier on what a
real engine stores.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

MIB = 2**20
NANO = 10**9
HEALTH_DURATIONS = {
    "interval": "Interval",
    "timeout": "Timeout",
    "startPeriod": "StartPeriod",
    "startInterval": "StartInterval",
}


def cpus_from_nano(nano: int) -> str:
    """nanoInt64ToDecimalString: nine decimals, then one decimal when the text has exactly nine
    zeros, otherwise trailing zeros stripped."""
    value = Decimal(nano) / NANO
    text = f"{value:.9f}"
    if text.count("0") == 9:
        return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):.1f}"
    return text.rstrip("0")


def go_duration(nanoseconds: int) -> str:
    """time.Duration.String() for whole seconds (the only durations the stack uses)."""
    assert nanoseconds % NANO == 0, nanoseconds
    seconds = nanoseconds // NANO
    parts = [(seconds // 3600, "h"), (seconds // 60 % 60, "m"), (seconds % 60, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return "".join(f"{amount}{unit}" for amount, unit in parts)


def duration_ns(text: str) -> int:
    """time.ParseDuration for h/m/s texts ("1m0s", "90s", "5m")."""
    assert re.fullmatch(r"(\d+h)?(\d+m)?(\d+s)?", text) and text, text
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", text)) * NANO


def memory_swap_from_bytes(swap: int) -> int:
    return swap // MIB if swap > 0 else swap


def from_engine(inspect: dict) -> dict:
    """The diffed fields as the provider sets them from a ContainerInspect answer."""
    host, health = inspect["HostConfig"], inspect["Config"].get("Healthcheck") or {}
    read = {
        "memory": host["Memory"] // MIB,
        "memorySwap": memory_swap_from_bytes(host["MemorySwap"]),
        "healthcheck": {
            key: go_duration(health.get(field) or 0) for key, field in HEALTH_DURATIONS.items()
        },
    }
    read["healthcheck"].update(tests=health.get("Test"), retries=health.get("Retries", 0))
    if host.get("NanoCpus"):
        read["cpus"] = cpus_from_nano(host["NanoCpus"])
    return read


def as_diffed(inputs: dict) -> dict:
    """The same fields from the inputs, with the schema's defaults filled in ("0s")."""
    health = inputs["healthcheck"]
    return {
        "cpus": inputs["cpus"],
        "memory": inputs["memory"],
        "memorySwap": inputs.get("memorySwap"),
        "healthcheck": {
            **{key: health.get(key, "0s") for key in HEALTH_DURATIONS},
            "tests": health["tests"],
            "retries": health.get("retries", 0),
        },
    }


def engine_from_inputs(inputs: dict, swap_accounting: bool = True) -> dict:
    """What an engine stores for these inputs: the round trip without an engine."""
    health = inputs["healthcheck"]
    memory = inputs["memory"] * MIB
    swap = inputs.get("memorySwap")
    if not swap_accounting:
        stored_swap = -1
    elif swap is None:
        stored_swap = 2 * memory  # Docker's default: as much swap as memory
    else:
        stored_swap = swap * MIB if swap > 0 else swap
    return {
        "HostConfig": {
            "Memory": memory,
            "MemorySwap": stored_swap,
            "NanoCpus": int(Decimal(inputs["cpus"]) * NANO),
        },
        "Config": {
            "Healthcheck": {
                "Test": health["tests"],
                "Retries": health.get("retries", 0),
                **{
                    field: duration_ns(health[key])
                    for key, field in HEALTH_DURATIONS.items()
                    if key in health
                },
            }
        },
    }
