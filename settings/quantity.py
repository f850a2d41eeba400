"""Kubernetes resource quantities as exact numbers, so budgets can be summed and compared.

`parse_quantity("500m") == Decimal("0.5")`, `parse_quantity("2Gi") == 2 * 1024**3`. Decimal, not
float: 3 × 0.1 CPU must equal 0.3 CPU when it is compared with a quota of exactly 0.3.
"""

from __future__ import annotations

import re
from decimal import Decimal

# The suffixes of k8s.io/apimachinery resource.Quantity: binary (Ki…Ei), decimal (n…E), and an
# exponent (1e3). Nothing else is a quantity ("1 Gi", "1GB", "1gi" are all rejected).
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_FORM = re.compile(
    r"^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$"
)
GI = Decimal(1024) ** 3
TI = Decimal(1024) ** 4


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a quantity; a ValueError names what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    text = str(value).strip() if isinstance(value, (int, float)) else value
    match = _FORM.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 2, 512Mi or 20Gi")
    sign, number, suffix, exponent = match.groups()
    amount = Decimal(number) * (-1 if sign == "-" else 1)
    if exponent is not None:
        return amount.scaleb(int(exponent))
    suffix = suffix or ""
    if suffix in _BINARY:
        return amount * Decimal(1024) ** _BINARY[suffix]
    return amount.scaleb(_DECIMAL[suffix])


def _trim(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(resource: str, value: Decimal) -> str:
    """For messages: CPUs in cores (`2.71`), bytes in Gi (`16.25Gi`) or from 1Ti on in Ti
    (`1.5Ti`), counts as integers."""
    if resource in ("memory", "storage"):
        return f"{_trim(value / TI)}Ti" if abs(value) >= TI else f"{_trim(value / GI)}Gi"
    return _trim(value)
