"""The bundled icons: drawn at the screen's scale (crisp at 100, 150 and 200 %), in the
theme's text colour, on the sidebar and the actions."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.ui import theme
from elite_panel.ui.icons import SHAPES, icon

pytestmark = pytest.mark.gui


def ink(image: QImage) -> list[QColor]:
    """The colours of the drawn (nearly opaque) pixels."""
    return [
        image.pixelColor(x, y)
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha() > 200
    ]


@pytest.mark.parametrize("scale", [1.0, 1.5, 2.0])
def test_every_icon_is_drawn_at_the_screens_scale(qapp: QApplication, scale: float) -> None:
    for name in SHAPES:
        pixmap = icon(name).pixmap(QSize(16, 16), scale)
        assert pixmap.devicePixelRatio() == scale, name
        assert pixmap.size() == QSize(round(16 * scale), round(16 * scale)), name
        assert ink(pixmap.toImage()), f"{name} draws nothing"


def test_a_large_icon_is_drawn_not_enlarged(qapp: QApplication) -> None:
    sharp = icon("chat").pixmap(QSize(16, 16), 2.0).toImage()
    enlarged = icon("chat").pixmap(QSize(16, 16), 1.0).toImage().scaled(32, 32)
    assert sharp.convertToFormat(enlarged.format()) != enlarged


def test_icons_take_the_themes_text_colour(qapp: QApplication) -> None:
    try:
        for scheme, dark_ink in (("light", True), ("dark", False)):
            theme.apply(qapp, scheme)
            drawn = ink(icon("stop").pixmap(QSize(24, 24)).toImage())
            lightness = sum(c.lightness() for c in drawn) / len(drawn)
            assert (lightness < 80) if dark_ink else (lightness > 180), scheme
    finally:
        theme.apply(qapp, "light")


def test_pages_and_actions_carry_icons(qtbot: QtBot, panel: Panel) -> None:
    panel.show("chat")
    sidebar = panel.window.sidebar
    assert all(not sidebar.item(row).icon().isNull() for row in range(sidebar.count()))
    chat = panel.window.page("chat")
    for button in (
        chat.composer.send_button,
        chat.composer.attach_button,
        chat.conversation_list.delete_button,
    ):  # type: ignore[attr-defined]
        assert not button.icon().isNull() and button.text()  # named, though only the icon shows
