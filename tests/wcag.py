"""WCAG 2.x contrast, for the colour tests (the CSS file's own pairs and the rendered page).

Relative luminance and contrast ratio as defined in WCAG 2.2 (sRGB channels linearised with the
0.04045 threshold; ratio = (L1 + 0.05) / (L2 + 0.05)). AA asks 4.5:1 for normal text.
"""

from __future__ import annotations

import re

AA_TEXT = 4.5

Rgb = tuple[float, float, float]

_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\b")
_RGB = re.compile(r"rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")


def parse_colour(text: str) -> tuple[Rgb, float]:
    """'#1d4ed8', '#fff', '#16a34a14', 'rgb(1, 2, 3)', 'rgba(1, 2, 3, 0.5)' -> (rgb, alpha).

    Channels are 0-255, alpha 0-1.
    """
    text = text.strip()
    match = _HEX.fullmatch(text)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)), alpha
    match = _RGB.fullmatch(text)
    if match:
        r, g, b, a = match.groups()
        alpha = 1.0
        if a:
            alpha = float(a[:-1]) / 100 if a.endswith("%") else float(a)
        return (float(r), float(g), float(b)), alpha
    raise ValueError(f"not a colour: {text!r}")


def over(top: Rgb, alpha: float, below: Rgb) -> Rgb:
    """``top`` with opacity ``alpha`` composited over an opaque ``below``."""
    return (
        top[0] * alpha + below[0] * (1 - alpha),
        top[1] * alpha + below[1] * (1 - alpha),
        top[2] * alpha + below[2] * (1 - alpha),
    )


def luminance(rgb: Rgb) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Rgb, b: Rgb) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
