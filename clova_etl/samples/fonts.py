"""Finding the fonts the samples are drawn with (Noto Sans CJK, DejaVu)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from PIL import ImageFont

Script = Literal["ko", "ja", "zh-TW", "latin", "mono"]


class FontNotFoundError(RuntimeError):
    """A font needed to draw the samples is not installed."""


@dataclass(frozen=True)
class FontSpec:
    """A font file and the face index inside it (a .ttc holds several faces)."""

    path: Path
    index: int = 0


# fontconfig family names, and known Debian paths when fc-match is absent. The Noto CJK .ttc
# holds one face per region: 0 JP, 1 KR, 2 SC, 3 TC.
_FAMILIES: dict[Script, str] = {
    "ko": "Noto Sans CJK KR",
    "ja": "Noto Sans CJK JP",
    "zh-TW": "Noto Sans CJK TC",
    "latin": "DejaVu Sans",
    "mono": "DejaVu Sans Mono",
}
_CJK_TTC = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
)
_CJK_INDEX: dict[Script, int] = {"ja": 0, "ko": 1, "zh-TW": 3}
_LATIN: dict[Script, tuple[Path, ...]] = {
    "latin": (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    ),
    "mono": (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
        Path("/usr/share/fonts/dejavu/DejaVuSansMono.ttf"),
    ),
}
_INSTALL_HINT = "install fonts-noto-cjk and fonts-dejavu-core (Debian/Ubuntu)"


def _fc_match(family: str) -> FontSpec | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(  # noqa: S603 - fixed executable and arguments
            [exe, "-f", "%{file}\n%{index}\n%{family}", family],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.splitlines()
    if len(lines) < 3 or family.lower() not in lines[2].lower():
        return None  # fontconfig fell back to another family
    return FontSpec(Path(lines[0]), int(lines[1] or 0))


@cache
def find_font(script: Script) -> FontSpec:
    """The font for a script; :class:`FontNotFoundError` says what to install when absent."""
    if script in _CJK_INDEX:
        for path in _CJK_TTC:
            if path.exists():
                return FontSpec(path, _CJK_INDEX[script])
    else:
        for path in _LATIN[script]:
            if path.exists():
                return FontSpec(path)
    found = _fc_match(_FAMILIES[script])
    if found is not None and found.path.exists():
        return found
    raise FontNotFoundError(f"no font {_FAMILIES[script]!r} for {script} samples: {_INSTALL_HINT}")


@cache
def load_font(script: Script, size: int) -> ImageFont.FreeTypeFont:
    """A Pillow font of ``size`` pixels for a script."""
    spec = find_font(script)
    return ImageFont.truetype(str(spec.path), size=size, index=spec.index)
