"""Conversation storage operations, the only code that writes SQL.

Full-text search uses the database's own engine: FTS5 on SQLite, tsvector on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from embedded_server.db.engine import Database
from embedded_server.db.models import Conversation, Message, MessageStatus, new_id, utcnow

TITLE_CHARS = 80
_WORD = re.compile(r"\w+", re.UNICODE)


# The chat turn's statements on the tables themselves (Core, built once): they run before
# every first token, and ids and times are made here.
_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_INSERT_CONVERSATION = insert(_CONVERSATIONS)
_INSERT_MESSAGE = insert(_MESSAGES)
_TOUCH = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("target"))
    .values(updated_at=bindparam("now"))
)


class NotFound(LookupError):
    """No conversation with that id."""


@dataclass(frozen=True)
class MessageDraft:
    """A message to store (its id and time are made by the store)."""

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
    """Conversation operations; each runs in one transaction through :class:`Database`.

    A store :meth:`scoped` to an owner (an API key's name) sees and makes only that owner's
    conversations: another's are "not found". The unscoped store (the admin's) sees all.
    """

    def __init__(self, database: Database, owner: str | None = None) -> None:
        self.db = database
        self.dialect = database.dialect
        self.owner = owner

    def scoped(self, owner: str | None) -> ConversationStore:
        """This store as ``owner`` sees it (``None``: everything)."""
        return self if owner == self.owner else ConversationStore(self.db, owner)

    def _owned(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        """``conditions``, and the conversation is this store's owner's."""
        if self.owner is not None:
            conditions = (*conditions, Conversation.owner == self.owner)
        return and_(true(), *conditions)

    async def ping(self) -> None:
        await self.db.ping()

    # -- conversations ----------------------------------------------------------------

    async def create(self, title: str | None = None) -> Conversation:
        def work(session: Session) -> Conversation:
            conversation = Conversation(
                id=new_id(),
                title=title or "New conversation",
                pinned=False,
                owner=self.owner,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            session.add(conversation)
            return conversation

        return await self.db.run(work)

    async def get(self, conversation_id: str, with_messages: bool = False) -> Conversation:
        def work(session: Session) -> Conversation | None:
            query = select(Conversation).where(self._owned(Conversation.id == conversation_id))
            if with_messages:
                query = query.options(selectinload(Conversation.messages))
            return session.execute(query).scalar_one_or_none()

        conversation = await self.db.run(work)
        if conversation is None:
            raise NotFound(conversation_id)
        return conversation

    async def recent_messages(
        self, conversation_id: str, limit: int, before: str | None = None
    ) -> tuple[Conversation, list[Message], int]:
        """The conversation, its newest ``limit`` messages (before the message ``before``
        when given) in order, and how many older ones remain.

        Raises:
            NotFound: no such conversation, or ``before`` is not one of its messages.
        """

        def work(session: Session) -> tuple[Conversation, list[Message], int]:
            query = select(Conversation).where(self._owned(Conversation.id == conversation_id))
            conversation = session.execute(query).scalar_one_or_none()
            if conversation is None:
                raise NotFound(conversation_id)
            mine = Message.conversation_id == conversation_id
            if before is not None:
                cut = session.execute(
                    select(Message.id).where(mine, Message.public_id == before)
                ).scalar_one_or_none()
                if cut is None:
                    raise NotFound(conversation_id)
                mine = and_(mine, Message.id < cut)
            newest = select(Message).where(mine).order_by(Message.id.desc()).limit(limit)
            messages = list(reversed(session.execute(newest).scalars().all()))
            earlier = 0
            if messages:
                older = select(func.count()).where(mine, Message.id < messages[0].id)
                earlier = int(session.execute(older).scalar_one())
            return conversation, messages, earlier

        return await self.db.run(work)

    async def search(
        self, query: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[Conversation], int]:
        """Pinned first, then the most recently updated; ``query`` searches titles and text.

        A search finds its matches once: the page and their number come from one query
        (``count(*) OVER ()``); the plain list counts apart, which its index makes cheap.
        """
        condition = self._search_condition(query) if query.strip() else None
        order = (Conversation.pinned.desc(), Conversation.updated_at.desc(), Conversation.id)
        mine = self._owned()

        def work(session: Session) -> tuple[list[Conversation], int]:
            count = select(func.count()).select_from(Conversation).where(mine)
            if condition is None:
                page = select(Conversation).where(mine).order_by(*order).limit(limit).offset(offset)
                rows = list(session.execute(page).scalars().all())
                return rows, int(session.execute(count).scalar_one())
            matches = (
                select(Conversation, func.count().over())
                .where(condition, mine)
                .order_by(*order)
                .limit(limit)
                .offset(offset)
            )
            found = session.execute(matches).all()
            if found:
                return [conversation for conversation, _ in found], int(found[0][1])
            return [], int(session.execute(count.where(condition)).scalar_one())

        return await self.db.run(work)

    async def conversations_per_model(self) -> dict[str, int]:
        """How many conversations each model has (a conversation's latest model)."""

        def work(session: Session) -> dict[str, int]:
            query = (
                select(Conversation.model, func.count())
                .where(self._owned())
                .group_by(Conversation.model)
            )
            return {model: int(n) for model, n in session.execute(query) if model is not None}

        return await self.db.run(work)

    async def update(
        self, conversation_id: str, title: str | None = None, pinned: bool | None = None
    ) -> Conversation:
        values: dict[str, Any] = {}
        if title is not None:
            values["title"] = title
        if pinned is not None:
            values["pinned"] = pinned
        if values:

            def work(session: Session) -> int:
                result = session.execute(
                    update(Conversation)
                    .where(self._owned(Conversation.id == conversation_id))
                    .values(**values)
                )
                return int(result.rowcount)  # type: ignore[attr-defined]

            if await self.db.run(work) == 0:
                raise NotFound(conversation_id)
        return await self.get(conversation_id)

    async def delete(self, conversation_id: str) -> None:
        def work(session: Session) -> int:
            if not self._exists(session, conversation_id):
                return 0
            session.execute(delete(Message).where(Message.conversation_id == conversation_id))
            result = session.execute(delete(Conversation).where(Conversation.id == conversation_id))
            return int(result.rowcount)  # type: ignore[attr-defined]

        if await self.db.run(work) == 0:
            raise NotFound(conversation_id)

    # -- messages ---------------------------------------------------------------------

    async def truncate(self, conversation_id: str, message_id: str) -> int:
        """Delete a message and every later one of its conversation (regenerate, edit and
        resend); returns how many were deleted.

        Raises:
            NotFound: no such conversation, or the message is not one of its messages.
        """

        def work(session: Session) -> int:
            if not self._exists(session, conversation_id):
                raise NotFound(conversation_id)
            first = session.execute(
                select(Message.id).where(
                    Message.conversation_id == conversation_id, Message.public_id == message_id
                )
            ).scalar_one_or_none()
            if first is None:
                raise NotFound(conversation_id)
            result = session.execute(
                delete(Message).where(
                    Message.conversation_id == conversation_id, Message.id >= first
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        return await self.db.run(work)

    async def history(self, conversation_id: str) -> list[Message]:
        """The conversation's messages in order (to send to the model again)."""
        return list((await self.get(conversation_id, with_messages=True)).messages)

    async def add_turn(
        self,
        conversation_id: str | None,
        title: str,
        drafts: Sequence[MessageDraft],
        public_ids: Sequence[str] | None = None,
    ) -> str:
        """Store messages in one transaction, creating the conversation (titled ``title``)
        when ``conversation_id`` is None; returns the conversation id."""
        now = utcnow()
        ids = list(public_ids or (new_id() for _ in drafts))
        rows = [
            {
                "public_id": pid,
                "role": d.role,
                "content": d.content,
                "model": d.model,
                "status": d.status.value,
                "created_at": now,
            }
            for pid, d in zip(ids, drafts, strict=True)
        ]

        def work(session: Session) -> str:
            target = conversation_id
            if target is None:
                target = new_id()
                session.execute(
                    _INSERT_CONVERSATION,
                    {
                        "id": target,
                        "title": title,
                        "pinned": False,
                        "owner": self.owner,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            elif not self._exists(session, target) or (
                session.execute(_TOUCH, {"target": target, "now": now}).rowcount == 0  # type: ignore[attr-defined]
            ):
                raise NotFound(target)
            if rows:
                session.execute(
                    _INSERT_MESSAGE, [{**row, "conversation_id": target} for row in rows]
                )
            return target

        return await self.db.run(work)

    def _exists(self, session: Session, conversation_id: str) -> bool:
        """Whether the conversation is there and this store's owner's."""
        found = select(Conversation.id).where(self._owned(Conversation.id == conversation_id))
        return session.execute(found).first() is not None

    async def save_answer(self, public_id: str, content: str, **fields: Any) -> None:
        """Write an answer's text so far; at the end also its status and figures, and the
        model becomes the conversation's (remembered for its next answer)."""

        def work(session: Session) -> None:
            session.execute(
                update(Message)
                .where(Message.public_id == public_id)
                .values(content=content, updated_at=utcnow(), **fields)
            )
            if fields.get("model"):
                owner = select(Message.conversation_id).where(Message.public_id == public_id)
                session.execute(
                    update(Conversation)
                    .where(Conversation.id == owner.scalar_subquery())
                    .values(model=fields["model"], updated_at=utcnow())
                )

        await self.db.run(work)

    async def mark_interrupted(self, silent_for_s: float | None = None) -> int:
        """Answers left ``streaming`` by a server that died become ``incomplete``: all of
        them (a server alone on its database, at start), or those not written for
        ``silent_for_s`` (replicas: a live one writes its answers while they stream)."""
        stale = Message.status == MessageStatus.STREAMING.value
        if silent_for_s is not None:
            before = utcnow() - timedelta(seconds=silent_for_s)
            stale &= func.coalesce(Message.updated_at, Message.created_at) < before

        def work(session: Session) -> int:
            result = session.execute(
                update(Message)
                .where(stale)
                .values(status=MessageStatus.INCOMPLETE.value, error="the server stopped")
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        return await self.db.run(work)

    # -- search -----------------------------------------------------------------------

    def _search_condition(self, query: str) -> ColumnElement[bool]:
        """Conversations whose messages or title contain every word (as prefixes): one
        ``IN`` over the union of two index lookups, so that neither side scans a table."""
        words = _WORD.findall(query)
        if not words:
            return literal_column("1") == literal_column("0")
        titled = _CONVERSATIONS.alias("titled")
        if self.dialect == "sqlite":
            match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)

            def fts(table: str) -> Select[Any]:
                return (
                    select(literal_column("rowid"))
                    .select_from(text(table))
                    .where(text(f"{table} MATCH :q").bindparams(q=match))
                )

            in_messages = select(Message.conversation_id).where(Message.id.in_(fts("messages_fts")))
            in_titles = select(titled.c.id).where(
                literal_column("titled.rowid").in_(fts("conversations_fts"))
            )
            return Conversation.id.in_(union(in_messages, in_titles))
        # The configuration is written into the SQL, not bound: the GIN indexes are on
        # to_tsvector('simple', ...), and a bound parameter does not match them (the
        # planner then scans every message: 230 ms at 10k messages, bench_store).
        simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
        tsquery = func.to_tsquery(simple, " & ".join(f"{w}:*" for w in words))
        in_messages = select(Message.conversation_id).where(
            func.to_tsvector(simple, Message.content).op("@@")(tsquery)
        )
        in_titles = select(titled.c.id).where(
            func.to_tsvector(simple, titled.c.title).op("@@")(tsquery)
        )
        return Conversation.id.in_(union(in_messages, in_titles))
