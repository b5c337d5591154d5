"""The headless commands that talk to the supervisor or to an assistant server, under
asyncio (imported only when one runs: the window's start does without asyncio until it has
painted)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from elite_panel import __version__
from elite_panel.chat.context_text import notice
from elite_panel.cli import models as cli_models
from elite_panel.cli.console import err, out, out_json
from elite_panel.client.records import Conversation, ConversationDetail, to_json
from elite_panel.core.errors import DaemonUnavailable, EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.services import ServiceState, ServiceStatus, stopped_statuses
from elite_panel.core.stack_token import read_token

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.core.profiles import Profile
    from elite_panel.projects.mentions import Reference
    from elite_panel.stack.control import ControlClient


def run(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    """Run ``args.command`` (stack, models, chat, conversations, metrics, exporter)."""
    commands = {
        "stack": stack,
        "models": models,
        "projects": projects,
        "editor": editor,
        "chat": chat,
        "conversations": conversations,
        "metrics": metrics,
        "exporter": exporter,
    }
    return asyncio.run(commands[args.command](args, paths, profile))


async def stack(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    from elite_panel.stack.control import (
        ControlClient,
        ensure_daemon,
        reply_services,
        reply_version,
        version_note,
    )

    if profile.stack.mode == "remote":
        return await _remote_stack(args, paths, profile)
    client = ControlClient(paths)
    wire_profile = profile.model_dump(mode="json")
    action = args.action
    if action == "status":
        running: str | None = __version__
        try:
            reply = await client.request("status")  # the services and the version at once
            services, running = reply_services(reply), reply_version(reply)
        except DaemonUnavailable:
            services = stopped_statuses()
        if args.json:
            out_json({"services": [s.to_json() for s in services], "supervisor": running})
        else:
            out(format_table(services))
        if running != __version__:
            err(f"note: {version_note(running)}")
        return 0
    if action == "logs":
        async for line in client.logs(args.service, args.lines, args.follow):
            out(line + "\n")
        return 0
    if action == "down":
        try:
            services = await client.call("down")
        except DaemonUnavailable:
            out("the stack is not running\n")
            return 0
        out(format_table(services))
        return 0
    client = await ensure_daemon(paths, say=err)
    if action == "up":
        # An image pull can take minutes: show its progress while waiting.
        progress = asyncio.create_task(_pull_progress(client))
        try:
            services = await client.call("up", profile=wire_profile, runner=args.runner)
        finally:
            progress.cancel()
    elif action == "restart":
        services = await client.call("restart", profile=wire_profile, service=args.service)
    else:
        services = await client.call(action, profile=wire_profile, service=args.service)
    out(format_table(services))
    return 0


async def _remote_stack(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    """``stack`` on a remote profile: status asks the server; nothing starts or stops here."""
    url = profile.remote.url
    if args.action != "status":
        raise EliteError(
            f"this profile uses the remote server {url}: nothing runs on this machine to "
            f"{args.action}; it is managed where it runs"
        )
    client = await _assistant(paths, profile)
    try:
        ready = await client.readiness()
    finally:
        await client.aclose()
    if args.json:
        out_json({"mode": "remote", "url": url, "status": ready.status, "checks": ready.checks})
    else:
        checks = ", ".join(f"{k} {v}" for k, v in ready.checks.items())
        out(f"remote {url}: {ready.status} ({checks})\n")
    return 0 if ready.status == "ready" else 1


async def _pull_progress(client: ControlClient) -> None:
    """The runner's image-pull lines, on stderr, while ``stack up`` waits."""
    with contextlib.suppress(EliteError):
        async for line in client.logs("runner", 0, follow=True):
            if line.startswith("pull"):
                err(line)


async def metrics(args: argparse.Namespace, paths: AppPaths, _profile: Profile) -> int:
    """Rates and CPU percentages need two readings: the first one only primes them."""
    from elite_panel.monitor.collector import Collector
    from elite_panel.monitor.report import format_sample
    from elite_panel.stack.control import ControlClient

    if args.interval <= 0:
        raise EliteError("--interval must be more than 0 seconds")
    client = ControlClient(paths)
    collector = Collector(paths.data)
    try:
        await collector.sample(await _running_statuses(client))
        while True:
            await asyncio.sleep(args.interval)
            sample = (await collector.sample(await _running_statuses(client))).to_json()
            out(json.dumps(sample) + "\n" if args.json else format_sample(sample))
            if not args.watch:
                return 0
            if not args.json:
                out("\n")
    finally:
        await collector.aclose()


async def exporter(args: argparse.Namespace, paths: AppPaths, _profile: Profile) -> int:
    """Sample every ``--interval`` seconds (the supervised services too, when a stack runs);
    each scrape gets the latest sample."""
    from elite_panel.monitor import exporter
    from elite_panel.monitor.collector import Collector
    from elite_panel.monitor.sample import Sample
    from elite_panel.stack.control import ControlClient

    if args.interval <= 0:
        raise EliteError("--interval must be more than 0 seconds")
    client = ControlClient(paths)
    collector = Collector(paths.data)
    latest: list[Sample] = []
    try:
        server = exporter.serve(args.listen, lambda: latest[-1] if latest else None)
    except (OSError, ValueError) as exc:
        raise EliteError(f"cannot serve metrics on {args.listen}: {exc}") from exc
    err(f"serving this machine's metrics on http://{args.listen}/metrics (Ctrl+C stops)\n")
    try:
        while True:
            latest[:] = [await collector.sample(await _running_statuses(client))]
            await asyncio.sleep(args.interval)
    finally:
        server.shutdown()
        server.server_close()
        await collector.aclose()


async def _running_statuses(client: ControlClient) -> list[ServiceStatus]:
    try:
        return list(await client.call("status"))
    except DaemonUnavailable:
        return []


async def models(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    from elite_panel.stack.control import ControlClient

    async def restart_runner() -> None:
        wire = profile.model_dump(mode="json")
        await ControlClient(paths).call("restart", service="runner", profile=wire)

    client = await _assistant(paths, profile)
    try:
        return await cli_models.run_models(args, client, restart_runner)
    finally:
        await client.aclose()


async def projects(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    from elite_panel.cli.projects import run_projects

    return await run_projects(args, paths.ensure(), profile, lambda: _assistant(paths, profile))


async def editor(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    from elite_panel.cli.editor import run_editor

    async def key() -> str:
        """The key the assistant takes now: the remote one, or the local stack's token."""
        if profile.stack.mode == "remote":
            from elite_panel.client.remote import remote_credentials
            from elite_panel.core.secret_store import SecretStore

            return remote_credentials(profile, SecretStore(paths))[1]
        token = read_token(paths)
        if token is None:
            raise EliteError("the stack is not up: run `elite-panel stack up` first")
        return token

    return await run_editor(args, paths, profile, key)


async def _assistant(paths: AppPaths, profile: Profile) -> AssistantClient:
    """A client of the running stack's assistant server (its URL and token), or of the
    profile's remote server (its URL and API key)."""
    if profile.stack.mode == "remote":
        from elite_panel.client.remote import remote_client
        from elite_panel.core.secret_store import SecretStore

        return remote_client(profile, SecretStore(paths))
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.stack.control import ControlClient

    try:
        services = {s.name: s for s in await ControlClient(paths).call("status")}
    except DaemonUnavailable as exc:
        raise EliteError("the stack is not up: run `elite-panel stack up` first") from exc
    assistant = services["assistant"]
    if assistant.state is not ServiceState.READY or not assistant.url:
        raise EliteError(
            f"the assistant server is {assistant.state.value}: run `elite-panel stack up`"
        )
    token = read_token(paths)
    if token is None:
        raise EliteError(f"cannot read the stack's token ({paths.token_file}): restart the stack")
    return AssistantClient(assistant.url, token)


async def chat(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise EliteError("empty prompt: pass it as an argument or on standard input")
    client = await _assistant(paths, profile)
    try:
        reference = await _project_reference(args, paths, profile, client, prompt)
    except BaseException:
        await client.aclose()
        raise
    answer = client.chat(
        [{"role": "user", "content": prompt}],
        model=args.model,
        conversation_id=args.conversation,
        context_policy=args.context_policy,
        reference=reference.text if reference else None,
    )
    conversation = None
    try:
        # aclosing: an answer left early (an error) closes its request here, in this task.
        async with contextlib.aclosing(answer) as events:
            async for event in events:
                kind = event.get("type")
                if kind == "start":
                    conversation = event.get("conversation_id")
                    if left_out := notice(event.get("context") or {}):
                        err(f"[{left_out}]")
                elif kind == "token":
                    out(event["content"])
                elif kind == "error":
                    out("\n")
                    raise EliteError(f"the answer failed: {event.get('message')}")
                elif kind == "done":
                    out("\n")
                    if reference is not None:
                        err(sources_text(reference))
                    err(
                        f"[{event['usage']['completion_tokens']} tokens, "
                        f"{event.get('tokens_per_second')} tok/s, first token "
                        f"{event['ttft_ms']} ms; conversation {conversation}]"
                    )
    finally:
        await client.aclose()
    return 0


async def _project_reference(
    args: argparse.Namespace,
    paths: AppPaths,
    profile: Profile,
    client: AssistantClient,
    prompt: str,
) -> Reference | None:
    """The code of the prompt's @-mentions and of ``--project``, fitted to the window."""
    from elite_panel.projects.mentions import project_reference
    from elite_panel.projects.registry import ProjectRegistry

    registry = ProjectRegistry(paths)
    for name in args.project:
        registry.get(name)  # an unknown name is an error, not an empty reference
    model = profile.projects.embedding_model

    async def embed(texts: list[str]) -> list[list[float]]:
        return await client.embed(model, texts)

    async def draft(reference: str | None) -> dict[str, Any]:
        messages = [{"role": "user", "content": prompt}]
        return await client.count(messages, args.model, args.conversation, reference=reference)

    return await project_reference(
        prompt, registry, profile.projects.context_share, embed, draft, args.project
    )


def sources_text(reference: Reference) -> str:
    """The excerpts the answer had, as citations (and how many did not fit)."""
    cited = ", ".join(hit.citation for hit in reference.sources) or "none fitted"
    left = f"; {reference.left_out} more did not fit the window" if reference.left_out else ""
    return f"[sources ({reference.tokens:,} tokens): {cited}{left}]"


async def conversations(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    client = await _assistant(paths, profile)
    try:
        if args.action == "list":
            page = await client.conversations(args.query, args.limit)
            if args.json:
                out_json(to_json(page))
            else:
                out(format_conversations(page.conversations))
        elif args.action == "show":
            detail = await client.conversation(args.id)
            if args.json:
                out_json(to_json(detail))
            else:
                out(format_messages(detail))
        elif args.action == "export":
            out(await client.export(args.id, args.format))
        elif args.action == "delete":
            await client.delete_conversation(args.id)
            err(f"deleted {args.id}")
    finally:
        await client.aclose()
    return 0


def format_conversations(conversations: Sequence[Conversation]) -> str:
    if not conversations:
        return "no conversations\n"
    lines = []
    for c in conversations:
        pin = "*" if c.pinned else " "
        owner = f"  [{c.owner}]" if c.owner else ""  # the API key that asked
        lines.append(f"{c.id}  {pin} {c.updated_at:%Y-%m-%d %H:%M}  {c.title}{owner}")
    return "\n".join(lines) + "\n"


def format_messages(detail: ConversationDetail) -> str:
    out = [f"{detail.title}  ({detail.id})", ""]
    for m in detail.messages:
        facts = [m.model] if m.model else []
        if m.status != "complete":
            facts.append(m.status)
        suffix = f" [{', '.join(facts)}]" if facts else ""
        out += [f"--- {m.role}{suffix}", m.content, ""]
    return "\n".join(out)


def format_table(services: Sequence[ServiceStatus]) -> str:
    header = ("SERVICE", "STATE", "KIND", "PID", "URL", "UPTIME", "RESTARTS", "LAST ERROR")
    rows = [header] + [
        (
            s.name,
            s.state.value,
            s.kind or "-",
            str(s.pid) if s.pid else "-",
            s.url or "-",
            f"{s.uptime_s:.0f}s" if s.uptime_s is not None else "-",
            str(s.restarts),
            (s.last_error or "-").splitlines()[0][:60],
        )
        for s in services
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"
