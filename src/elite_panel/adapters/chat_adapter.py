"""Conversations and streamed answers for the chat page, over the assistant server's API.

The adapter follows the stack: when the assistant server becomes ready it opens one
:class:`AssistantClient` (URL from the supervisor, token from the stack's 0600 file) and
keeps it until the server goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.tasks import TaskGroup
from elite_panel.chat.attachments import attachment_block
from elite_panel.core.errors import AssistantError, EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.core.stack_token import read_token

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.projects.mentions import Reference

    ReferenceFor = Callable[
        [AssistantClient, str, str | None, str | None, str | None], Awaitable[Reference | None]
    ]

log = logging.getLogger(__name__)

STACK_DOWN = "The assistant server is not running: start the stack (Stack page, or Ctrl+S)."


HISTORY_PAGE = 20  # messages a conversation opens with, and per page back


class ChatAdapter(QObject):
    """The Chat page's Qt side of the assistant client: conversations and streamed answers.

    Signals:
    availableChanged(bool): an assistant server is reachable.
    conversationsChanged(list): the list for the current search (:class:`Conversation`).
    conversationLoaded(object): a :class:`ConversationDetail` with its newest
        :data:`HISTORY_PAGE` messages and how many older ones remain (``earlier``), or
        ``None`` for a new conversation.
    earlierLoaded(object): the :class:`ConversationDetail` page of older messages asked
        with :meth:`load_earlier`.
    modelsChanged(list): model names.
    streamStarted(dict): the ``start`` event of an answer.
    streamText(str): the answer so far (the view renders at its own pace).
    streamFinished(dict): the ``done`` event.
    streamFailed(str, str): what went wrong and what to do; the partial answer is kept.
        The second is the action offered: ``retry``, ``start`` (the stack), ``shorten``
        (the prompt was refused as too long for the model's window: nothing was kept or
        sent, the prompt comes back through ``promptRestored``), or none.
    draftCounted(dict): what the draft would take of the model's window (the server's
        ``/api/chat/count``: ``fits``, ``context``, ``error``).
    failed(str): an action on conversations failed.
    promptRestored(str, bool): the last prompt, taken back (with its answer) to be
        resent as is (True: regenerate) or edited first (False).
    attachmentRead(str): a file read for the prompt, as a fenced block.
    attachmentRefused(str): why a file could not be attached.
    sourcesFound(object): the project code an answer is given (its @-mentions'), a
        :class:`~elite_panel.projects.mentions.Reference`, before the answer starts.
    """

    availableChanged = Signal(bool)
    conversationsChanged = Signal(list)
    conversationLoaded = Signal(object)
    earlierLoaded = Signal(object)
    modelsChanged = Signal(list)
    streamStarted = Signal(dict)
    streamText = Signal(str)
    streamFinished = Signal(dict)
    streamFailed = Signal(str, str)
    draftCounted = Signal(dict)
    failed = Signal(str)
    promptRestored = Signal(str, bool)
    attachmentRead = Signal(str)
    attachmentRefused = Signal(str)
    sourcesFound = Signal(object)

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.client: AssistantClient | None = None
        self.conversation_id: str | None = None
        self.query = ""
        self.streaming = False
        self._tasks = TaskGroup("chat")
        self._last_prompt: tuple[str, str | None, str | None] | None = None
        self._attachments = 0
        self.remote = False  # a remote profile: the local stack's states are not followed
        self.unavailable_reason = STACK_DOWN
        # The code a prompt's @-mentions bring (the projects adapter's), None: no projects.
        self.reference_for: ReferenceFor | None = None

    # -- connection ---------------------------------------------------------------------

    def on_stack_status(self, statuses: list[ServiceStatus]) -> None:
        """The local stack's states: connect to its server when it is ready (not while a
        remote profile is the active one)."""
        if self.remote:
            return
        assistant = next((s for s in statuses if s.name == "assistant"), None)
        url = assistant.url if assistant and assistant.state is ServiceState.READY else None
        if url and (self.client is None or self.client.base_url != url):
            token = read_token(self.paths)
            if token is None:
                self.failed.emit(f"cannot read the stack's token ({self.paths.token_file})")
                return
            self.connect_to(url, token)
        elif url is None and self.client is not None:
            self._close_client()
            self.availableChanged.emit(False)

    def connect_to(self, url: str, token: str, verify: bool | ssl.SSLContext = True) -> None:
        # httpx is imported on first connection, not at panel start.
        from elite_panel.client.assistant import AssistantClient

        self._close_client()
        self.client = AssistantClient(url, token, verify=verify)
        self.availableChanged.emit(True)
        self.refresh()
        self._tasks.start("models", self._models())

    def set_remote(self, remote: bool, reason: str = STACK_DOWN) -> None:
        """Follow a team's server (``connect_to`` is then called with its key) or the local
        stack again; either way the current connection ends, and ``reason`` says why there
        is none until the next one."""
        self.remote = remote
        self.unavailable_reason = reason
        self.stop()
        if self.client is not None:
            self._close_client()
            self.availableChanged.emit(False)

    def close(self) -> None:
        self._tasks.cancel_all()
        self._close_client()

    def _close_client(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            self._tasks.start(f"close:{id(client)}", client.aclose())

    # -- conversations ------------------------------------------------------------------

    def refresh(self, query: str | None = None) -> None:
        if query is not None:
            self.query = query
        self._run("list", self._list())

    def open(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self._run("open", self._open(conversation_id))

    def load_earlier(self, before: str) -> None:
        """The page of messages before the message ``before`` (``earlierLoaded``)."""
        if self.conversation_id:
            self._run("earlier", self._open(self.conversation_id, before))

    def new_conversation(self) -> None:
        self.stop()
        self.conversation_id = None
        self.conversationLoaded.emit(None)

    def rename(self, conversation_id: str, title: str) -> None:
        self._run("rename", self._update(conversation_id, title=title))

    def set_pinned(self, conversation_id: str, pinned: bool) -> None:
        self._run("pin", self._update(conversation_id, pinned=pinned))

    def delete(self, conversation_id: str) -> None:
        if conversation_id == self.conversation_id:
            self.new_conversation()
        self._run("delete", self._delete(conversation_id))

    def read_attachments(self, paths: list[Path]) -> None:
        """Read files for the prompt off the UI thread, in order (``attachmentRead`` or
        ``attachmentRefused`` for each); no assistant server is needed."""
        self._attachments += 1
        self._tasks.start(f"attach-{self._attachments}", self._read_attachments(paths))

    async def _read_attachments(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                block = await asyncio.to_thread(attachment_block, path)
            except EliteError as exc:
                self.attachmentRefused.emit(str(exc))
            else:
                self.attachmentRead.emit(block)

    def export(self, conversation_id: str, fmt: str, target: Path) -> None:
        self._run("export", self._export(conversation_id, fmt, target))

    # -- answers ------------------------------------------------------------------------

    def send(self, prompt: str, model: str | None, system: str | None = None) -> None:
        if not prompt.strip() or self.streaming:
            return
        self._last_prompt = (prompt, model, system)
        if self.client is None:
            self.streamFailed.emit(self.unavailable_reason, "" if self.remote else "start")
            return
        self.streaming = True
        self._tasks.start("stream", self._stream(self.client, prompt, model, system))

    def count_draft(self, prompt: str, model: str | None, system: str | None = None) -> None:
        """Ask the server what the draft would take of the window (``draftCounted``); a
        newer draft cancels the count of an older one."""
        if self.client is not None:
            self._tasks.start("count", self._count(self.client, prompt, model, system))

    def take_back_last_prompt(self, resend: bool) -> None:
        """Regenerate (``resend``) or edit the last prompt: it and what follows are deleted
        from the conversation, then handed back through ``promptRestored``."""
        if self.conversation_id and not self.streaming:
            self._run("rewind", self._rewind(self.conversation_id, resend))

    def retry(self) -> None:
        if self._last_prompt is not None:
            self.send(*self._last_prompt)

    def stop(self) -> None:
        """Cancel the answer: closing the request makes the server keep what it has."""
        self._tasks.cancel("stream")

    # -- internals ----------------------------------------------------------------------

    def _run(self, key: str, coro: Any) -> None:
        if self.client is None:
            coro.close()
            self.failed.emit(self.unavailable_reason)
            return
        self._tasks.start(key, coro)

    async def _list(self) -> None:
        assert self.client is not None
        try:
            page = await self.client.conversations(self.query, limit=200)
        except AssistantError as exc:
            self.failed.emit(str(exc))
            return
        self.conversationsChanged.emit(list(page.conversations))

    async def _open(self, conversation_id: str, before: str | None = None) -> None:
        """The newest page (``conversationLoaded``), or the one before the message
        ``before`` (``earlierLoaded``), if the conversation is still the open one."""
        assert self.client is not None
        try:
            page = await self.client.conversation(conversation_id, HISTORY_PAGE, before)
        except AssistantError as exc:
            self.failed.emit(str(exc))
            return
        if conversation_id == self.conversation_id:
            (self.conversationLoaded if before is None else self.earlierLoaded).emit(page)

    async def _rewind(self, conversation_id: str, resend: bool) -> None:
        assert self.client is not None
        try:
            detail = await self.client.conversation(conversation_id, last=HISTORY_PAGE)
            prompts = [m for m in detail.messages if m.role == "user"]
            if not prompts:
                return
            await self.client.truncate(conversation_id, prompts[-1].id)
        except AssistantError as exc:
            self.failed.emit(str(exc))
            return
        await self._open(conversation_id)
        self.promptRestored.emit(prompts[-1].content, resend)

    async def _update(self, conversation_id: str, **changes: Any) -> None:
        assert self.client is not None
        try:
            await self.client.update_conversation(conversation_id, **changes)
        except AssistantError as exc:
            self.failed.emit(str(exc))
        await self._list()

    async def _delete(self, conversation_id: str) -> None:
        assert self.client is not None
        try:
            await self.client.delete_conversation(conversation_id)
        except AssistantError as exc:
            self.failed.emit(str(exc))
        await self._list()

    async def _export(self, conversation_id: str, fmt: str, target: Path) -> None:
        assert self.client is not None
        try:
            text = await self.client.export(conversation_id, fmt)
            await asyncio.to_thread(target.write_text, text, "utf-8")
        except (AssistantError, OSError) as exc:
            self.failed.emit(f"export failed: {exc}")

    async def _models(self) -> None:
        assert self.client is not None
        try:
            models = await self.client.models()
        except AssistantError as exc:
            log.info("no model list: %s", exc)
            return
        self.modelsChanged.emit([m.name for m in models if not m.embedding])  # (chat ones)

    async def _count(
        self, client: AssistantClient, prompt: str, model: str | None, system: str | None
    ) -> None:
        try:
            counted = await client.count(
                [{"role": "user", "content": prompt}], model, self.conversation_id, system
            )
        except AssistantError as exc:  # an older server, or none: no meter
            log.info("the draft was not counted: %s", exc)
            return
        self.draftCounted.emit(counted)

    async def _stream(
        self, client: AssistantClient, prompt: str, model: str | None, system: str | None
    ) -> None:
        text = ""
        outcome: tuple[Any, ...] = ()
        reference = None
        if self.reference_for is not None:
            try:
                reference = await self.reference_for(
                    client, prompt, model, self.conversation_id, system
                )
            except EliteError as exc:  # (AssistantError too) the answer goes on without
                self.failed.emit(f"the project's code was left out: {exc}")
            if reference is not None:
                self.sourcesFound.emit(reference)
        answer = client.chat(
            [{"role": "user", "content": prompt}],
            model=model,
            conversation_id=self.conversation_id,
            system=system,
            reference=reference.text if reference and reference.text else None,
        )
        try:
            async with contextlib.aclosing(answer) as events:
                async for event in events:
                    kind = event.get("type")
                    if kind == "start":
                        self.conversation_id = event["conversation_id"]
                        self.streamStarted.emit(event)
                    elif kind == "token":
                        text += event["content"]
                        self.streamText.emit(text)
                    elif kind == "done":
                        outcome = (self.streamFinished, event)
                    elif kind == "error":
                        message, code = str(event.get("message")), str(event.get("code"))
                        advice = _advice(message, code, self.remote)
                        outcome = (self.streamFailed, advice, "retry")
        except asyncio.CancelledError:
            outcome = (self.streamFailed, "Stopped. The partial answer is kept.", "")
            raise
        except AssistantError as exc:
            if exc.code == "context_overflow":  # refused before anything was kept
                outcome = (self.streamFailed, str(exc), "shorten")
                self.promptRestored.emit(prompt, False)
            else:
                outcome = (self.streamFailed, _advice(str(exc), exc.code, self.remote), "retry")
        finally:
            # Not streaming any more before anyone hears of the end (a Retry may follow).
            self.streaming = False
            if outcome:
                signal, *args = outcome
                signal.emit(*args)
            if self.client is client:
                self.refresh()


# What to do about a failed answer, by the server's error code.
ADVICE = {
    "model_not_found": "Pick another model, or pull this one into the runner.",
    "runner_failed": "The partial answer is kept; check the runner on the Stack page.",
    "unavailable": "The partial answer is kept; check the runner on the Stack page.",
    "unreachable": "Is the stack up? Start it on the Stack page (Ctrl+S).",
    "rate_limited": "Too many requests: wait a moment, then Retry.",
    "unauthorized": "The stack restarted with a new token: Retry reconnects.",
    "runner_timeout": "The runner stopped answering; check it on the Stack page, then Retry.",
    "queue_full": "Every runner is busy: Retry in a moment.",
    "queue_timeout": "Every runner stayed busy: Retry in a moment.",
    "model_not_allowed": "Pick a model this key may use.",
    "key_revoked": "The key was revoked: set a new one on the Secrets page.",
}


# The same codes from a team's server: nothing to start here, a key of one's own.
REMOTE_ADVICE = {
    **ADVICE,
    "runner_failed": "The partial answer is kept; the Stack page shows the server's runners.",
    "unavailable": "The partial answer is kept; the Stack page shows the server's runners.",
    "unreachable": "The partial answer is kept; check the network and [remote] url, then Retry.",
    "unauthorized": "Set a valid key on the Secrets page (ask the server's admin for one).",
}


def _advice(message: str, code: str, remote: bool = False) -> str:
    """The error, with what to do about it (by its code, never by its words)."""
    advice = (REMOTE_ADVICE if remote else ADVICE).get(code)
    return f"{message}. {advice}" if advice else message
