"""SMTP provider presets (seed 000) and detection from an email address."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    host: str
    port: int
    security: str  # starttls | ssl | none


PRESETS: dict[str, Preset] = {
    "gmail": Preset("gmail", "smtp.gmail.com", 587, "starttls"),
    "outlook": Preset("outlook", "smtp-mail.outlook.com", 587, "starttls"),
    "office365": Preset("office365", "smtp.office365.com", 587, "starttls"),
    "yahoo": Preset("yahoo", "smtp.mail.yahoo.com", 587, "starttls"),
}

_DOMAINS: dict[str, str] = {
    "gmail.com": "gmail",
    "googlemail.com": "gmail",
    "outlook.com": "outlook",
    "hotmail.com": "outlook",
    "live.com": "outlook",
    "msn.com": "outlook",
    "office365.com": "office365",
    "onmicrosoft.com": "office365",
    "yahoo.com": "yahoo",
    "ymail.com": "yahoo",
    "rocketmail.com": "yahoo",
}


def detect_provider(address: str) -> str:
    """`gmail` / `outlook` / `office365` / `yahoo` from the address's domain, else `custom`."""
    domain = address.rpartition("@")[2].strip().lower()
    if domain in _DOMAINS:
        return _DOMAINS[domain]
    if domain.endswith(".onmicrosoft.com"):
        return "office365"
    if domain.startswith("yahoo.") or domain.startswith("hotmail.") or domain.startswith("live."):
        return "yahoo" if domain.startswith("yahoo.") else "outlook"
    return "custom"
