"""Section headers drawn above the first item of each group of a list (Today, Yesterday...),
without extra rows: the list's items stay the conversations themselves."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

GROUP_ROLE = Qt.ItemDataRole.UserRole + 2  # the group's name, on its first item only


class GroupHeaderDelegate(QStyledItemDelegate):
    """Draws an item's group name (``GROUP_ROLE``) above it, in small muted capitals."""

    def header_height(self, option: QStyleOptionViewItem) -> int:
        return option.fontMetrics.height() + 8

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(GROUP_ROLE):
            size.setHeight(size.height() + self.header_height(option))
        return size

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        group = index.data(GROUP_ROLE)
        if not group:
            super().paint(painter, option, index)
            return
        header = self.header_height(option)
        rect = QRect(option.rect)
        painter.save()
        font = painter.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(font)
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            rect.adjusted(4, 4, -4, 0).topLeft().x(),
            rect.top() + header - 6,
            str(group).upper(),
        )
        painter.restore()
        item = QStyleOptionViewItem(option)
        item.rect = rect.adjusted(0, header, 0, 0)
        super().paint(painter, item, index)
