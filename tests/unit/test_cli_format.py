"""The CLI's listing of conversations."""

from __future__ import annotations

from elite_panel.cli.commands import format_conversations


def test_a_keys_conversation_names_the_key_and_pinned_ones_are_starred() -> None:
    listed = format_conversations(
        [
            {"id": "a1", "pinned": True, "updated_at": "2026-11-30T10:00:00", "title": "mine"},
            {
                "id": "b2",
                "pinned": False,
                "updated_at": "2026-11-30T11:00:00",
                "title": "fix my loop",
                "owner": "editor-alice",
            },
        ]
    ).splitlines()
    assert listed == [
        "a1  * 2026-11-30 10:00  mine",
        "b2    2026-11-30 11:00  fix my loop  [editor-alice]",
    ]
    assert format_conversations([]) == "no conversations\n"
