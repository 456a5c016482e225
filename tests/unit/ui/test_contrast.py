"""The app's colours meet WCAG AA, computed from assets/app.css itself (no browser).

Every text colour of the palette on every surface it is declared to sit on, in the light and
the dark theme, and every rule that declares both a text colour and a background (badges,
status pills, highlights). The rendered page is measured too (tests/ui/test_ui_layout.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.wcag import AA_TEXT, contrast, over, parse_colour

CSS = Path(__file__).resolve().parents[3] / "assistant" / "ui" / "assets" / "app.css"
TEXT_VARS = ("--ans-text", "--ans-muted", "--ans-link", "--ans-error", "--ans-ok")
SURFACES = ("--ans-surface-1", "--ans-surface-2", "--ans-surface-3", "--ans-active-bg")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_VAR = re.compile(r"var\((--[\w-]+)(?:,\s*([^)]+))?\)")


def rules() -> list[tuple[str, dict[str, str]]]:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.DOTALL)
    out = []
    for selector, body in _RULE.findall(text):
        decls = {}
        for part in body.split(";"):
            name, sep, value = part.partition(":")
            if sep:
                decls[name.strip()] = value.replace("!important", "").strip()
        out.append((" ".join(selector.split()), decls))
    return out


def themes() -> dict[str, dict[str, str]]:
    light: dict[str, str] = {}
    dark: dict[str, str] = {}
    for selector, decls in rules():
        if selector == ":root":
            light.update({k: v for k, v in decls.items() if k.startswith("--")})
        elif selector == ".dark":
            dark.update({k: v for k, v in decls.items() if k.startswith("--")})
    return {"light": light, "dark": {**light, **dark}}


def resolve(value: str, palette: dict[str, str]) -> str | None:
    match = _VAR.fullmatch(value.strip())
    if match:
        name, fallback = match.groups()
        return palette.get(name) or fallback
    return value.strip() if value.strip().startswith("#") else None


def test_the_palette_is_declared_for_both_themes() -> None:
    palettes = themes()
    for name, palette in palettes.items():
        missing = [v for v in (*TEXT_VARS, *SURFACES) if v not in palette]
        assert not missing, f"{name} theme lacks {missing}"
    dark_only = {k for k, _ in rules() if k == ".dark"}
    assert dark_only, "a dark palette exists"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_colours_on_their_surfaces(theme: str) -> None:
    palette = themes()[theme]
    ratios = {}
    for fg in TEXT_VARS:
        for bg in SURFACES:
            (f, _), (b, _) = parse_colour(palette[fg]), parse_colour(palette[bg])
            ratios[(fg, bg)] = contrast(f, b)
    worst = min(ratios, key=ratios.__getitem__)
    print(f"\n{theme}: lowest {worst} {ratios[worst]:.2f}:1")
    failing = {k: round(r, 2) for k, r in ratios.items() if r < AA_TEXT}
    assert not failing, f"below {AA_TEXT}:1 in the {theme} theme: {failing}"


def test_rules_with_their_own_background() -> None:
    palettes = themes()
    checked = 0
    for selector, decls in rules():
        fg_value, bg_value = decls.get("color"), decls.get("background")
        if not fg_value or not bg_value:
            continue
        for theme, palette in palettes.items():
            fg, bg = resolve(fg_value, palette), resolve(bg_value, palette)
            if fg is None or bg is None:
                continue  # e.g. transparent: the text sits on the theme's surface
            (f, fa), (b, ba) = parse_colour(fg), parse_colour(bg)
            base, _ = parse_colour(palette["--ans-surface-1"])
            ratio = contrast(over(f, fa, over(b, ba, base)), over(b, ba, base))
            assert ratio >= AA_TEXT, f"{selector} ({theme}): {ratio:.2f}:1"
            checked += 1
    assert checked >= 15, "badges, review and page statuses and highlights are all checked"


def test_no_text_is_faded_with_opacity() -> None:
    faded = [selector for selector, decls in rules() if "opacity" in decls]
    assert not faded, f"opacity lowers text contrast: {faded}"


def test_the_contrast_formula() -> None:
    black, white = (0.0, 0.0, 0.0), (255.0, 255.0, 255.0)
    assert contrast(black, white) == pytest.approx(21.0)
    assert contrast(white, white) == pytest.approx(1.0)
    (grey, _) = parse_colour("#767676")  # the well-known lightest AA grey on white
    assert contrast(grey, white) == pytest.approx(4.54, abs=0.01)
    assert parse_colour("rgba(0, 0, 0, 0.5)") == ((0.0, 0.0, 0.0), 0.5)
    assert parse_colour("#fff") == ((255, 255, 255), 1.0)
