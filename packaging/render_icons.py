"""Render the application's SVG icon as PNG files at the hicolor theme's sizes.

``python packaging/render_icons.py OUTDIR`` writes ``OUTDIR/hicolor/<n>x<n>/apps/`` for each
size and ``OUTDIR/hicolor/scalable/apps/`` (the SVG itself), as the .deb and the tarball
install them.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
NAME = "elite-coding-assistant"
SOURCE = Path(__file__).resolve().parents[1] / "resources" / "icons" / f"{NAME}.svg"


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    out = Path(argv[0]) / "hicolor"
    app = QGuiApplication([])  # noqa: F841 - fonts for the SVG's text need it
    renderer = QSvgRenderer(str(SOURCE))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out / f"{size}x{size}" / "apps" / f"{NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):
            raise SystemExit(f"cannot write {target}")
    scalable = out / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, scalable / SOURCE.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
