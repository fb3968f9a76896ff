"""Human durations in the configuration: "500ms", "10s", "5m", "1h30m", "2d" or a number of seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds from a duration string or a number; raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError("durée attendue, par exemple « 30s », « 5m » ou « 1h »")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_S[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            raise ValueError(f"durée illisible « {value} » : écrire par exemple « 30s », « 5m » ou « 1h30m »")
    else:
        raise ValueError("durée attendue, par exemple « 30s », « 5m » ou « 1h »")
    if seconds < 0:
        raise ValueError("une durée ne peut pas être négative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest readable form: 90 -> "1m30s"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    rest, out = round(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


Duration = Annotated[float, BeforeValidator(parse_duration)]
