"""Personal data that citizens type into a question, masked before anything is stored.

People ask the hotline's assistant about their own case and add their ID-card or phone number. The
answer does not need it and the desk's statistics must not keep it: :func:`mask` replaces the obvious
kinds (18-digit ID-card numbers, 11-digit mobile numbers, landline numbers with an area code) with a
placeholder before :class:`dzqa.feedback.FeedbackStore` writes a question or feedback. The answer is
computed from what was typed, unmasked; nothing here is reversible.
"""

from __future__ import annotations

import re

#: a digit, also full-width (Chinese input methods type １３８…)
_D = "[0-9\uff10-\uff19]"
_SEP = "[-\u2010-\u2015\uff0d \u3000]?"  # optional hyphen (ASCII, Unicode dashes, full-width) or space
#: no digit (or ID-card letter) right before or after: a part of a longer number is not one of these
_NOT_BEFORE = "(?<![0-9\uff10-\uff19])"
_NOT_AFTER = "(?![0-9\uff10-\uff19])"

ID_CARD = "〔身份证号〕"
MOBILE = "〔手机号〕"
LANDLINE = "〔电话号码〕"

PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 18-digit resident ID: 17 digits and a check digit or X (the 15-digit cards expired in 2013)
    (re.compile(rf"{_NOT_BEFORE}{_D}{{17}}[0-9\uff10-\uff19Xx\uff38\uff58](?![0-9A-Za-z\uff10-\uff19])"), ID_CARD),
    # mobile: 1[3-9] and 9 more digits, optionally +86 and grouped 3-4-4
    (re.compile(rf"{_NOT_BEFORE}(?:(?:\+|\uff0b)?86{_SEP})?[1\uff11][3-9\uff13-\uff19]{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}{_NOT_AFTER}"),
     MOBILE),
    # landline: area code 0xx(x) (optionally in brackets) and a 7–8 digit number, e.g. 0534-1234567
    (re.compile(rf"{_NOT_BEFORE}[(（]?[0０]{_D}{{2,3}}[)）]?{_SEP}{_D}{{7,8}}{_NOT_AFTER}"), LANDLINE),
)


def mask(text: str) -> str:
    """``text`` with ID-card, mobile and landline numbers replaced by placeholders (idempotent)."""
    if not isinstance(text, str) or not any(c.isdigit() for c in text):
        return text
    for pattern, placeholder in PATTERNS:
        text = pattern.sub(placeholder, text)
    return text
