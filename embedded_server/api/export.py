"""Conversations as Markdown or JSON documents."""

from __future__ import annotations

from embedded_server.api.schemas import ConversationDetail

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


def to_markdown(conversation: ConversationDetail) -> str:
    lines = [
        f"# {conversation.title}",
        "",
        f"*Created {conversation.created_at:%Y-%m-%d %H:%M} UTC*",
        "",
    ]
    for message in conversation.messages:
        heading = ROLE_TITLES.get(message.role, message.role.title())
        facts = [message.model] if message.role == "assistant" and message.model else []
        if message.status != "complete":
            facts.append(f"{message.status}: {message.error}" if message.error else message.status)
        suffix = f" ({', '.join(f for f in facts if f)})" if facts else ""
        lines += [f"## {heading}{suffix}", "", message.content.rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def to_json(conversation: ConversationDetail) -> str:
    return conversation.model_dump_json(indent=2)
