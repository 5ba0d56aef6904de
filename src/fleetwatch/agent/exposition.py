"""Prometheus text exposition format 0.0.4, written by hand (standard library only).

`Exposition` collects samples into metric families and renders them with HELP and TYPE lines,
label values escaped (backslash, double quote, newline) and help text escaped (backslash,
newline), as <https://prometheus.io/docs/instrumenting/exposition_formats/> specifies.
What the samples are (names, units, labels) is decided by `fleetwatch.protocol.prometheus`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The text format's content type, for the HTTP `Content-Type` header.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
KINDS = ("gauge", "counter", "untyped")

Labels = Mapping[str, object]


def escape_label_value(value: str) -> str:
    """Escape a label value: backslash, double quote and line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """Escape HELP text: backslash and line feed."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as the format writes it (`NaN`, `+Inf`, `-Inf` for the special ones)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _label_text(labels: Labels) -> str:
    if not labels:
        return ""
    parts = [f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items()]
    return "{" + ",".join(parts) + "}"


@dataclass
class Family:
    """One metric family: name (counters end in `_total`), kind, help, samples."""

    name: str
    kind: str
    help: str
    samples: dict[str, float] = field(default_factory=dict)  # label text -> value


class Exposition:
    """Collects samples; `render()` gives the text. Families keep their first-seen order."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def add(
        self, name: str, kind: str, help_text: str, value: object, labels: Labels | None = None
    ) -> None:
        """Add one sample. `None` values are skipped; booleans become 1/0.

        Raises `ValueError` for an invalid name, kind or label name, for a counter whose
        name does not end in `_total`, or for a family re-declared with another kind.
        """
        if value is None:
            return
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            raise ValueError(f"{name}: value must be a number, got {value!r}")
        family = self._families.get(name)
        if family is None:
            family = self._declare(name, kind, help_text)
        elif family.kind != kind:
            raise ValueError(f"{name}: declared as {family.kind}, now {kind}")
        for label in labels or {}:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"{name}: invalid label name {label!r}")
        # A repeated label set keeps the first value: one series, one sample.
        family.samples.setdefault(_label_text(labels or {}), value)

    def _declare(self, name: str, kind: str, help_text: str) -> Family:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        if kind not in KINDS:
            raise ValueError(f"{name}: unknown metric kind {kind!r}")
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"{name}: a counter's name must end in _total")
        family = Family(name, kind, help_text)
        self._families[name] = family
        return family

    def __contains__(self, name: str) -> bool:
        return name in self._families

    def render(self) -> str:
        """The exposition text, ending with a newline (empty string when nothing was added)."""
        lines: list[str] = []
        for family in self._families.values():
            lines.append(f"# HELP {family.name} {escape_help(family.help)}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            for label_text, value in family.samples.items():
                lines.append(f"{family.name}{label_text} {format_value(value)}")
        return "\n".join(lines) + "\n" if lines else ""
