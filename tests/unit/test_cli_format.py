"""The CLI's listing of conversations."""

from __future__ import annotations

from datetime import datetime

from elite_panel.cli.commands import format_conversations
from elite_panel.client.records import Conversation


def conversation(
    id_: str, title: str, at: str, pinned: bool, owner: str | None = None
) -> Conversation:
    when = datetime.fromisoformat(at)
    return Conversation(id_, title, pinned, None, when, when, owner)


def test_a_keys_conversation_names_the_key_and_pinned_ones_are_starred() -> None:
    listed = format_conversations(
        [
            conversation("a1", "mine", "2026-11-30T10:00:00", pinned=True),
            conversation("b2", "fix my loop", "2026-11-30T11:00:00", False, "editor-alice"),
        ]
    ).splitlines()
    assert listed == [
        "a1  * 2026-11-30 10:00  mine",
        "b2    2026-11-30 11:00  fix my loop  [editor-alice]",
    ]
    assert format_conversations([]) == "no conversations\n"
