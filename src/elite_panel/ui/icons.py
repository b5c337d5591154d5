"""The panel's icons: a small bundled SVG set, drawn in the palette's text colour.

Each icon is a few strokes on a 24 x 24 grid.  :class:`SvgIconEngine` renders it at the
size and device pixel ratio asked for (crisp at 100, 150 and 200 % scale) and in the colour
of the current palette, so icons follow the light or dark theme without being rebuilt.
Rendering needs only QtSvg (a few milliseconds to load), not an icon font.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

SHAPES = {
    # pages
    "chat": '<path d="M4 5h16v11H9l-5 4z"/>',
    "dashboard": '<polyline points="3 12 7 12 10 5 14 19 17 12 21 12"/>',
    "stack": '<rect x="4" y="4" width="16" height="6" rx="1"/>'
    '<rect x="4" y="14" width="16" height="6" rx="1"/><path d="M7.5 7h2M7.5 17h2"/>',
    "models": '<path d="M12 3l8 4.5v9L12 21l-8-4.5v-9z"/><path d="M4 7.5l8 4.5 8-4.5M12 12v9"/>',
    "settings": '<path d="M4 6h9M19 6h1M4 12h3M13 12h7M4 18h11M21 18h-1"/>'
    '<circle cx="16" cy="6" r="2"/><circle cx="10" cy="12" r="2"/><circle cx="18" cy="18" r="2"/>',
    "secrets": '<circle cx="8" cy="15" r="4"/><path d="M11 12l9-9M16 7l3 3M18 5l2 2"/>',
    "projects": '<path d="M3 6h7l2 2h9v11H3z"/><path d="M9 13l-2 2 2 2M15 13l2 2-2 2"/>',
    "backups": '<rect x="3" y="4" width="18" height="5" rx="1"/><path d="M5 9v10h14V9M10 13h4"/>',
    "welcome": '<path d="M12 3l2.5 5.6 6 .7-4.5 4.1 1.3 6L12 16.4l-5.3 3 1.3-6-4.5-4.1 6-.7z"/>',
    # actions
    "new": '<path d="M12 5v14M5 12h14"/>',
    "send": '<path d="M12 19V5M6 11l6-6 6 6"/>',
    "stop": '<rect x="6" y="6" width="12" height="12" rx="1"/>',
    "start": '<path d="M7 4l13 8-13 8z"/>',
    "restart": '<path d="M20 12a8 8 0 11-2.3-5.7"/><path d="M20 4v5h-5"/>',
    "attach": '<path d="M16 7l-7.5 7.5a2 2 0 002.8 2.8L19 9.6a4 4 0 00-5.7-5.7L5.6 11.6'
    'a6 6 0 008.5 8.5L20 14"/>',
    "copy": '<rect x="8" y="8" width="12" height="12" rx="2"/>'
    '<path d="M16 8V6a2 2 0 00-2-2H6a2 2 0 00-2 2v8a2 2 0 002 2h2"/>',
    "edit": '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13 7l4 4"/>',
    "delete": '<path d="M4 7h16M10 7V4h4v3M6 7l1 13h10l1-13"/>',
    "pin": '<path d="M9 4h6M10 4v6l-3 4h10l-3-4V4M12 14v6"/>',
    "export": '<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>',
    "import": '<path d="M12 15V4M7 9l5-5 5 5M5 20h14"/>',
    "more": '<path d="M5 12h.01M12 12h.01M19 12h.01"/>',
    "check": '<path d="M5 12l5 5 9-10"/>',
}
TEMPLATE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{color}" '
    'stroke-width="{width}" stroke-linecap="round" stroke-linejoin="round">{shape}</svg>'
)
DOT_WIDTH = 3  # "more" and the LEDs of "stack" are dots: a zero-length line with round caps


@functools.lru_cache(maxsize=256)
def _renderer(name: str, color: str) -> QSvgRenderer:
    width = DOT_WIDTH if name == "more" else 2
    svg = TEMPLATE.format(color=color, width=width, shape=SHAPES[name])
    return QSvgRenderer(QByteArray(svg.encode()))


def _color(mode: QIcon.Mode) -> str:
    palette = QGuiApplication.palette()
    if mode is QIcon.Mode.Disabled:
        return palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).name()
    if mode is QIcon.Mode.Selected:
        return palette.color(QPalette.ColorRole.HighlightedText).name()
    return palette.color(QPalette.ColorRole.ButtonText).name()


class SvgIconEngine(QIconEngine):
    """Draws one of :data:`SHAPES` at any size and scale, in the palette's colour."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        side = min(rect.width(), rect.height())
        square = QRect(0, 0, side, side)
        square.moveCenter(rect.center())
        _renderer(self.name, _color(mode)).render(painter, square)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        pixmap = QPixmap(size * scale)
        pixmap.fill(QColor(0, 0, 0, 0))  # transparent
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.paint(painter, pixmap.rect(), mode, state)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self.name)

    def key(self) -> str:
        return "elite-svg"


def icon(name: str) -> QIcon:
    """The icon called ``name`` (one of :data:`SHAPES`)."""
    if name not in SHAPES:
        raise KeyError(f"no icon called {name!r}")
    return QIcon(SvgIconEngine(name))
