"""A bar chart of score vs target as a PNG, drawn without matplotlib (zlib + struct only).

score = how far past its target a row is: ratio / target for higher-is-better rows,
target / ratio for lower-is-better ones (bytes on disk, latency), so 1.0 is always the target.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# 5x7 glyphs, one int per row, bit 4 = leftmost column. Lowercase draws as uppercase (but x).
_GLYPHS: dict[str, tuple[int, ...]] = {
    "0": (14, 17, 19, 21, 25, 17, 14), "1": (4, 12, 4, 4, 4, 4, 14),
    "2": (14, 17, 1, 2, 4, 8, 31), "3": (31, 2, 4, 2, 1, 17, 14),
    "4": (2, 6, 10, 18, 31, 2, 2), "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14), "7": (31, 1, 2, 4, 8, 8, 8),
    "8": (14, 17, 17, 14, 17, 17, 14), "9": (14, 17, 17, 15, 1, 2, 12),
    "A": (14, 17, 17, 17, 31, 17, 17), "B": (30, 17, 17, 30, 17, 17, 30),
    "C": (14, 17, 16, 16, 16, 17, 14), "D": (28, 18, 17, 17, 17, 18, 28),
    "E": (31, 16, 16, 30, 16, 16, 31), "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15), "H": (17, 17, 17, 31, 17, 17, 17),
    "I": (14, 4, 4, 4, 4, 4, 14), "J": (7, 2, 2, 2, 2, 18, 12),
    "K": (17, 18, 20, 24, 20, 18, 17), "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17), "N": (17, 17, 25, 21, 19, 17, 17),
    "O": (14, 17, 17, 17, 17, 17, 14), "P": (30, 17, 17, 30, 16, 16, 16),
    "Q": (14, 17, 17, 17, 21, 18, 13), "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30), "T": (31, 4, 4, 4, 4, 4, 4),
    "U": (17, 17, 17, 17, 17, 17, 14), "V": (17, 17, 17, 17, 17, 10, 4),
    "W": (17, 17, 17, 21, 21, 21, 10), "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 17, 10, 4, 4, 4), "Z": (31, 1, 2, 4, 8, 16, 31),
    "x": (0, 0, 17, 10, 4, 10, 17), ".": (0, 0, 0, 0, 0, 12, 12),
    "-": (0, 0, 0, 31, 0, 0, 0), ":": (0, 12, 12, 0, 12, 12, 0),
    "/": (0, 1, 2, 4, 8, 16, 0), "<": (2, 4, 8, 16, 8, 4, 2),
    ">": (8, 4, 2, 1, 2, 4, 8), "=": (0, 0, 31, 0, 31, 0, 0),
    "(": (2, 4, 8, 8, 8, 4, 2), ")": (8, 4, 2, 2, 2, 4, 8),
    "%": (24, 25, 2, 4, 8, 19, 3), " ": (0, 0, 0, 0, 0, 0, 0),
}  # fmt: skip

WHITE = (255, 255, 255)
BLACK = (20, 20, 20)
GREY = (150, 150, 150)
LIGHT = (232, 232, 232)
GREEN = (46, 160, 67)
AMBER = (222, 160, 30)
RED = (207, 34, 46)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.px = bytearray(bytes(WHITE) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int]) -> None:
        x0, x1 = max(0, x0), min(self.w, x1)
        row = bytes(rgb) * max(0, x1 - x0)
        for y in range(max(0, y0), min(self.h, y1)):
            i = (y * self.w + x0) * 3
            self.px[i : i + len(row)] = row

    def text(self, x: int, y: int, s: str, rgb: tuple[int, int, int] = BLACK, scale: int = 2) -> int:
        """Draw ``s`` with its top-left at (x, y); returns the x after the last glyph."""
        for ch in s:
            glyph = _GLYPHS.get(ch) or _GLYPHS.get(ch.upper()) or _GLYPHS[" "]
            for r, bits in enumerate(glyph):
                for c in range(5):
                    if bits & (16 >> c):
                        xx, yy = x + c * scale, y + r * scale
                        self.rect(xx, yy, xx + scale, yy + scale, rgb)
            x += 6 * scale
        return x

    def png(self) -> bytes:
        stride = self.w * 3
        raw = b"".join(b"\x00" + bytes(self.px[y * stride : (y + 1) * stride]) for y in range(self.h))

        def chunk(tag: bytes, data: bytes) -> bytes:
            body = tag + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # row id
    score: float | None  # 1.0 == target; None: not measured
    stretch: float | None  # the stretch target on the same scale
    note: str  # e.g. "0.83x / >=0.5x"
    wrong: bool = False  # a failed correctness check


def draw(bars: Sequence[Bar], path: Path, title: str, max_score: float = 3.0) -> None:
    row_h, left, bar_w, top = 30, 90, 520, 60
    width = left + bar_w + 330
    height = top + row_h * len(bars) + 50
    cv = Canvas(width, height)
    cv.text(10, 12, title, scale=2)
    cv.text(10, 36, "SCORE = RATIO / TARGET. 1 = TARGET. GREY TICK = STRETCH", GREY, scale=1)

    def x_of(score: float) -> int:
        return left + int(bar_w * min(score, max_score) / max_score)

    for k in range(int(max_score) + 1):  # gridlines at whole scores
        cv.rect(x_of(k), top - 4, x_of(k) + 1, top + row_h * len(bars), LIGHT)
        cv.text(x_of(k) - 2, top + row_h * len(bars) + 6, str(k), GREY, scale=2)
    for i, bar in enumerate(bars):
        y = top + i * row_h
        cv.text(10, y + 8, bar.label, scale=2)
        if bar.wrong:
            cv.text(left + 4, y + 8, "WRONG ANSWER", RED, scale=2)
        elif bar.score is None:
            cv.text(left + 4, y + 8, "NOT MEASURED", GREY, scale=2)
        else:
            colour = GREEN if bar.score >= 1.0 else (AMBER if bar.score >= 0.8 else RED)
            cv.rect(left, y + 6, x_of(bar.score), y + row_h - 6, colour)
            if bar.score > max_score:
                cv.text(x_of(max_score) - 14, y + 8, ">", WHITE, scale=2)
        if bar.stretch is not None:
            cv.rect(x_of(bar.stretch) - 1, y + 2, x_of(bar.stretch) + 2, y + row_h - 2, GREY)
        cv.text(left + bar_w + 12, y + 8, bar.note, scale=2)
    cv.rect(x_of(1.0), top - 8, x_of(1.0) + 2, top + row_h * len(bars) + 4, BLACK)
    path.write_bytes(cv.png())
