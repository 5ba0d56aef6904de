"""Email templates (seed 000): `welcome`, `password_reset`, `account_locked`, `server_alert`,
`maintenance`, `custom`, each a subject, an HTML body and a text body.

Files live in `templates/` as `{name}_subject.txt`, `{name}_html.html`, `{name}_text.txt`;
an admin may override any part (stored by the hub). Placeholders are written the seed's way,
`{username}` `{display_name}` `{server_name}` `{timestamp}` `{base_url}` `{message}`, or as
Jinja2 (`{{ username }}`, `{% if %}`); rendering runs in Jinja2's sandbox because templates
are editable. The HTML's `mail-template.css` is inlined into `style` attributes with
css-inline (remote stylesheets never fetched) for email clients that drop `<style>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.mail.config import TEMPLATE_TYPES

TEMPLATE_DIR = Path(__file__).parent / "templates"
PARTS = ("subject", "html", "text")
PLACEHOLDERS = ("username", "display_name", "server_name", "timestamp", "base_url", "message")
_BRACE = re.compile(r"(?<!\{)\{(" + "|".join(PLACEHOLDERS) + r")\}(?!\})")
_FILES = {"subject": "{name}_subject.txt", "html": "{name}_html.html", "text": "{name}_text.txt"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def to_jinja(source: str) -> str:
    """`{username}` -> `{{ username }}`; Jinja syntax passes through untouched."""
    return _BRACE.sub(r"{{ \1 }}", source)


class TemplateStore:
    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        directory: Path = TEMPLATE_DIR,
    ) -> None:
        self.overrides = overrides or {}
        self.directory = directory
        self._html_env = SandboxedEnvironment(autoescape=True)
        self._text_env = SandboxedEnvironment(autoescape=False)
        self._inliner = css_inline.CSSInliner(
            load_remote_stylesheets=False,
            extra_css=(directory / "mail-template.css").read_text(encoding="utf-8"),
        )

    def source(self, name: str, part: str) -> str:
        if name not in TEMPLATE_TYPES:
            raise InvalidFieldError("template", f"unknown template {name!r}")
        override = self.overrides.get(name, {}).get(part)
        if override is not None:
            return override
        return (self.directory / _FILES[part].format(name=name)).read_text(encoding="utf-8")

    def render(self, name: str, context: Mapping[str, Any]) -> Rendered:
        ctx = {p: "" for p in PLACEHOLDERS} | dict(context)
        try:
            subject = self._text_env.from_string(to_jinja(self.source(name, "subject")))
            html = self._html_env.from_string(to_jinja(self.source(name, "html")))
            text = self._text_env.from_string(to_jinja(self.source(name, "text")))
            rendered_subject = " ".join(subject.render(ctx).split())
            rendered_html = self._inliner.inline(html.render(ctx))
            return Rendered(rendered_subject, rendered_html, text.render(ctx).strip() + "\n")
        except TemplateError as exc:
            raise InvalidFieldError(f"templates.{name}", f"template error: {exc}") from None


def validate_override(name: str, parts: Mapping[str, Any]) -> dict[str, str]:
    """Check an admin's template override compiles; errors name `templates.<name>.<part>`."""
    if name not in TEMPLATE_TYPES:
        raise InvalidFieldError("template", f"unknown template {name!r}")
    env = SandboxedEnvironment()
    out: dict[str, str] = {}
    for part, source in parts.items():
        if part not in PARTS or not isinstance(source, str):
            raise InvalidFieldError(f"templates.{name}.{part}", "expected subject, html or text")
        try:
            env.parse(to_jinja(source))
        except TemplateError as exc:
            raise InvalidFieldError(f"templates.{name}.{part}", str(exc)) from None
        out[part] = source
    return out
