"""Rules shared by member and staff credentials."""

from __future__ import annotations

from services.kit.errors import DomainError, unauthenticated
from services.kit.validation import Checker

PASSWORD_MIN, PASSWORD_MAX = 8, 128


def check_password(check: Checker, field: str, password: str) -> None:
    if len(password) < PASSWORD_MIN:
        check.fail(
            field,
            f"The {field} must be at least {PASSWORD_MIN} characters.",
            "too_short",
        )
    elif len(password) > PASSWORD_MAX:
        check.fail(
            field,
            f"The {field} may not be longer than {PASSWORD_MAX} characters.",
            "too_long",
        )


def invalid_credentials() -> DomainError:
    """Wrong email and wrong password get this same answer: existence does not leak."""
    return unauthenticated("INVALID_CREDENTIALS", "These credentials do not match our records.")
