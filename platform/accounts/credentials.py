"""What an account may be registered with: a real email address (normalised, one recipient,
no display name: it ends up in a To header), a printable name, and a password nobody guesses
first."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from holdfast.errors import Invalid

MIN_PASSWORD, MAX_PASSWORD = 8, 256

# The most used passwords of 8 characters or more (shorter ones are refused anyway), from the
# public breach-corpus rankings; compared lower-cased.
COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword
    passwort motdepasse contraseña 12345678 123456789 1234567890 12345678910 87654321
    987654321 123123123 12341234 11223344 12121212 147258369 159753456 741852963 123654789
    789456123 11111111 00000000 22222222 33333333 44444444 55555555 66666666 77777777
    88888888 99999999 999999999 111111111 123456789a a123456789 1234abcd abcd1234 abc12345
    abcdefgh qwerty123 qwertyuiop qwertyui qwer1234 1234qwer q1w2e3r4 q1w2e3r4t5 1q2w3e4r
    1q2w3e4r5t 1q2w3e4r5t6y q1w2e3r4t5y6 1qaz2wsx zaq12wsx qazwsxedc qweasdzxc 123qweasd
    asdfghjkl asdf1234 asdfasdf zxcvbnm123 azertyuiop iloveyou iloveyou1 sunshine sunshine1
    princess princess1 football football1 football123 baseball baseball1 welcome1
    welcome123 trustno1 superman starwars whatever michelle jennifer letmein1 letmein123
    monkey123 dragon123 shadow123 master123 charlie1 michael1 computer internet admin123
    administrator changeme changeme123 secret123 aaaaaaaa liverpool chelsea1 arsenal1
    manchester samsung1 pokemon1 minecraft naruto123 jordan23 basketball soccer123
    hello123 hello1234 loveyou1 lovely123 freedom1 mustang1 harley1 maggie123 buster123
    ginger123 summer123 summer2024 summer2025 winter123 spring123 autumn123 january1
    holdfast holdfast1 holdfast123 booking1 booking123 therapy1 clinic123
    """.split()
)


def normalise_email(email: str) -> str:
    """The address as it will be stored and mailed, or `Invalid` saying what is wrong.

    One plain address only: no display name, no second recipient, no quoted or IP-literal
    forms, no DNS lookup (registration must not depend on the network)."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(
            f"That is not an email address we can use: {exc}", code="invalid_email"
        ) from None
    return str(checked.normalized)


def email_key(email: str) -> str:
    """The case-insensitive identity of an address (the unique index is on it)."""
    try:
        return normalise_email(email).lower()
    except Invalid:
        return email.strip().lower()  # never matches an account: every stored one is valid


def check_name(name: str) -> str:
    """The name, trimmed; control characters (a CR/LF would end a mail header) are refused."""
    trimmed = name.strip()
    if not trimmed:
        raise Invalid("Please give a name.", code="invalid_name")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise Invalid(
            "A name cannot contain control characters or line breaks.", code="invalid_name"
        )
    return trimmed


def check_new_password(password: str, *, email: str, name: str = "") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(
            f"The password must be between {MIN_PASSWORD} and {MAX_PASSWORD} characters.",
            code="weak_password",
        )
    lowered = password.lower()
    local_part = email.partition("@")[0].lower()
    if (
        lowered in COMMON_PASSWORDS
        or lowered in (email.lower(), local_part, name.strip().lower())
        or len(set(lowered)) <= 2
    ):
        raise Invalid(
            "That password is among the first ones an attacker tries (a common password, or "
            "your email or name); please choose another.",
            code="weak_password",
        )
