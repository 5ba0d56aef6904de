"""Password hashing (argon2id) and the rules names, roles and passwords must follow (H8)."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fleetwatch.errors import UserError

#: lowest to highest; a role can do everything the roles before it can
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# argon2-cffi's defaults are argon2id (RFC 9106 low-memory profile)
_HASHER = PasswordHasher()
#: verified against when the user does not exist, so timing does not reveal names
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def role_allows(role: str, needed: str) -> bool:
    """True when `role` is at least `needed` (admin > operator > viewer)."""
    if role not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError("invalid", f"role must be one of {', '.join(ROLES)}, not {role!r}", "role")
    return role


def check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise UserError(
            "invalid",
            "user name: 1-64 characters, letters, digits and _ . @ -, starting with a letter"
            " or digit",
            "name",
        )
    return name


def check_email(email: str | None) -> str | None:
    if email is None or email.strip() == "":
        return None
    email = email.strip()
    if len(email) > 255 or not _EMAIL_RE.match(email):
        raise UserError("invalid", f"not an e-mail address: {email!r}", "email")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            "invalid", f"password: at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(
            "invalid", f"password: at most {MAX_PASSWORD_LENGTH} characters", "password"
        )
    return password


def hash_password(password: str) -> str:
    """An argon2id hash (CPU- and memory-hard: call it off the event loop)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort check; a missing hash still costs one verification."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password for first-run accounts: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)
