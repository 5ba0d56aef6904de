"""Small form building blocks for the settings and rules pages: a field spec renders one
input, and reads it back as the value the hub's validators expect (None when left empty)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from nicegui import ui

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.api.errors import ApiError


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: str = "text"  # text | secret | number | int | bool | list | json | choice
    choices: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # shown for `choices`, same order (default: the choices)


def widget(field: Field, value: Any, mark: str) -> Any:
    """Render one input for `field` holding `value`; `mark` names it for browser tests."""
    if field.kind == "bool":
        return ui.switch(field.label, value=bool(value)).mark(mark)
    if field.kind == "choice":
        choices = list(field.choices)
        chosen = value if value in choices else choices[0]
        return (
            ui.select(choices, value=chosen, label=field.label).props("dense outlined").mark(mark)
        )
    if field.kind in ("number", "int"):
        return ui.number(field.label, value=value).props("dense outlined").mark(mark)
    if field.kind == "list":
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else ""
        return ui.input(field.label, value=text).props("dense outlined").mark(mark)
    if field.kind == "json":
        text = orjson.dumps(value).decode() if value else ""
        return ui.input(field.label, value=text).props("dense outlined").mark(mark)
    secret = field.kind == "secret"
    return (
        ui.input(field.label, value=str(value or ""), password=secret)
        .props("dense outlined")
        .mark(mark)
    )


def read(field: Field, element: Any) -> Any:
    """The input's value as the validators want it; raises InvalidFieldError for bad JSON."""
    value = element.value
    if field.kind == "bool":
        return bool(value)
    if field.kind == "choice":
        return value
    if field.kind in ("number", "int"):
        if value is None or value == "":
            return None
        return int(value) if field.kind == "int" else float(value)
    text = str(value or "").strip()
    if not text:
        return None
    if field.kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if field.kind == "json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InvalidFieldError(field.key, 'expected JSON, e.g. {"X-Token": "abc"}') from None
    return text


def values(fields: tuple[Field, ...], elements: dict[str, Any]) -> dict[str, Any]:
    """Every non-empty field's value, by key."""
    out = {}
    for field in fields:
        value = read(field, elements[field.key])
        if value is not None:
            out[field.key] = value
    return out


def error_label() -> ui.label:
    return ui.label("").classes("text-sm text-red-500").mark("form-error")


async def submit(
    dialog: ui.dialog,
    error: ui.label,
    store: Callable[[], Awaitable[object]],
    done: Callable[[], object],
    saved: str | None = None,
) -> None:
    """An editor dialog's Save: run `store` (read the inputs, call the service). An invalid field
    or a refused change is shown in `error` and the dialog stays open; else it closes, `saved`
    is announced and `done()` refreshes the page."""
    try:
        await store()
    except (InvalidFieldError, ApiError) as exc:
        error.text = str(exc)
        return
    dialog.close()
    if saved:
        ui.notify(saved, type="positive")
    done()


def cancel_save_row(dialog: ui.dialog, save: Callable[[], Awaitable[None]], mark: str) -> None:
    """Cancel and Save at the foot of an editor dialog; `mark` names Save for browser tests."""
    with ui.row().classes("w-full justify-end gap-2"):
        ui.button("Cancel", on_click=dialog.close).props("flat")
        ui.button("Save", on_click=save).mark(mark)
