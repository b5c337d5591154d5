"""Conversation storage operations, the only code that writes SQL.

Full-text search uses the database's own engine: FTS5 on SQLite, tsvector on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal_column, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import selectinload

from embedded_server.db.engine import session_factory
from embedded_server.db.models import Conversation, Message, MessageStatus, new_id, utcnow

TITLE_CHARS = 80
_WORD = re.compile(r"\w+", re.UNICODE)


class NotFound(LookupError):
    """No conversation with that id."""


@dataclass(frozen=True)
class MessageDraft:
    role: str
    content: str
    model: str | None = None
    status: MessageStatus = MessageStatus.COMPLETE


def title_from(prompt: str) -> str:
    """A conversation title from its first prompt: the first line, shortened at a word."""
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "") or "New conversation"
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[:TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


class ConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sessions: async_sessionmaker[Any] = session_factory(engine)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    # -- conversations ----------------------------------------------------------------

    async def create(self, title: str | None = None, model: str | None = None) -> Conversation:
        async with self._sessions.begin() as session:
            conversation = Conversation(
                id=new_id(), title=title or "New conversation", model=model, pinned=False
            )
            session.add(conversation)
        return conversation

    async def get(self, conversation_id: str, with_messages: bool = False) -> Conversation:
        async with self._sessions() as session:
            query = select(Conversation).where(Conversation.id == conversation_id)
            if with_messages:
                query = query.options(selectinload(Conversation.messages))
            conversation = (await session.execute(query)).scalar_one_or_none()
        if conversation is None:
            raise NotFound(conversation_id)
        assert isinstance(conversation, Conversation)
        return conversation

    async def search(
        self, query: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[Conversation], int]:
        """Pinned first, then the most recently updated; ``query`` searches titles and text."""
        condition = self._search_condition(query) if query.strip() else None
        async with self._sessions() as session:
            stmt = select(Conversation)
            count = select(func.count()).select_from(Conversation)
            if condition is not None:
                stmt = stmt.where(condition)
                count = count.where(condition)
            stmt = stmt.order_by(
                Conversation.pinned.desc(), Conversation.updated_at.desc(), Conversation.id
            )
            rows = (await session.execute(stmt.limit(limit).offset(offset))).scalars().all()
            total = (await session.execute(count)).scalar_one()
        return list(rows), int(total)

    async def update(
        self, conversation_id: str, title: str | None = None, pinned: bool | None = None
    ) -> Conversation:
        values: dict[str, Any] = {}
        if title is not None:
            values["title"] = title
        if pinned is not None:
            values["pinned"] = pinned
        async with self._sessions.begin() as session:
            if values:
                result = await session.execute(
                    update(Conversation).where(Conversation.id == conversation_id).values(**values)
                )
                if result.rowcount == 0:  # type: ignore[attr-defined]
                    raise NotFound(conversation_id)
        return await self.get(conversation_id)

    async def delete(self, conversation_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Message).where(Message.conversation_id == conversation_id))
            result = await session.execute(
                delete(Conversation).where(Conversation.id == conversation_id)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(conversation_id)

    # -- messages ---------------------------------------------------------------------

    async def history(self, conversation_id: str) -> list[Message]:
        """The conversation's messages in order (to send to the model again)."""
        return list((await self.get(conversation_id, with_messages=True)).messages)

    async def add_messages(
        self, conversation_id: str, drafts: Sequence[MessageDraft]
    ) -> list[Message]:
        async with self._sessions.begin() as session:
            messages = [
                Message(
                    public_id=new_id(),
                    conversation_id=conversation_id,
                    role=d.role,
                    content=d.content,
                    model=d.model,
                    status=d.status.value,
                )
                for d in drafts
            ]
            session.add_all(messages)
            result = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(updated_at=utcnow())
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(conversation_id)
        return messages

    async def save_answer(self, message_id: int, content: str, **fields: Any) -> None:
        """Write an answer's text so far; at the end also its status and figures, and the
        model becomes the conversation's (remembered for its next answer)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Message).where(Message.id == message_id).values(content=content, **fields)
            )
            if fields.get("model"):
                owner = select(Message.conversation_id).where(Message.id == message_id)
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == owner.scalar_subquery())
                    .values(model=fields["model"], updated_at=utcnow())
                )

    async def mark_interrupted(self) -> int:
        """Answers left ``streaming`` by a server that died become ``incomplete``."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Message)
                .where(Message.status == MessageStatus.STREAMING.value)
                .values(status=MessageStatus.INCOMPLETE.value, error="the server stopped")
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- search -----------------------------------------------------------------------

    def _search_condition(self, query: str) -> ColumnElement[bool]:
        words = _WORD.findall(query)
        if not words:
            return literal_column("1") == literal_column("0")
        if self.dialect == "sqlite":
            match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
            in_messages = Message.id.in_(
                select(literal_column("rowid"))
                .select_from(text("messages_fts"))
                .where(text("messages_fts MATCH :q").bindparams(q=match))
            )
            in_titles = literal_column("conversations.rowid").in_(
                select(literal_column("rowid"))
                .select_from(text("conversations_fts"))
                .where(text("conversations_fts MATCH :q").bindparams(q=match))
            )
            hits = select(Message.conversation_id).where(in_messages)
            return or_(Conversation.id.in_(hits), in_titles)
        tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in words))
        in_messages = func.to_tsvector("simple", Message.content).op("@@")(tsquery)
        in_title = func.to_tsvector("simple", Conversation.title).op("@@")(tsquery)
        hits = select(Message.conversation_id).where(in_messages)
        return or_(Conversation.id.in_(hits), in_title)
