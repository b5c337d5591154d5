"""Adapters from the server's chat contract to the model runners' APIs, and the pool that
routes between several runners."""

from embedded_server.backends.base import (
    BackendError,
    ChatBackend,
    ChatChunk,
    ModelInfo,
    RunnerBackend,
)
from embedded_server.backends.gguf_tokenizer import GgufTokenizers
from embedded_server.backends.pool import HealthPolicy, Runner, RunnerPool
from embedded_server.config import RunnerSpec, Settings
from embedded_server.metrics import ServerMetrics


def make_runner(spec: RunnerSpec, settings: Settings) -> RunnerBackend:
    """The adapter for one runner, built on the runner's official client. The built-in
    runner (the one-runner shorthand with ``ASSISTANT_MODELS_DIR``) manages its folder."""
    key = spec.api_key.get_secret_value()
    connect = settings.runner_connect_timeout_s
    tokenizers = GgufTokenizers() if GgufTokenizers.available() else None
    if spec.kind == "openai":
        from embedded_server.backends.gguf_folder import GgufFolder
        from embedded_server.backends.openai_backend import OpenAIBackend

        folder = None
        if settings.models_dir and not settings.runners:
            folder = GgufFolder(
                settings.models_dir,
                settings.bundled_model,
                spec.context_length,
                tokenizers,
                settings.bundled_embedding_model,
            )
        return OpenAIBackend(spec.url, key, folder, spec.context_length, connect)
    from embedded_server.backends.ollama_backend import OllamaBackend

    return OllamaBackend(spec.url, key, spec.context_length, connect, tokenizers)


def make_pool(settings: Settings, metrics: ServerMetrics) -> RunnerPool:
    """The pool of ``ASSISTANT_RUNNERS`` (or of the one runner), with its health policy."""
    runners = [
        Runner(
            spec.name,
            spec.url,
            make_runner(spec, settings),
            spec.kind,
            spec.weight,
            spec.slots or settings.runner_slots,
        )
        for spec in settings.runner_specs()
    ]
    policy = HealthPolicy(
        settings.runner_check_interval_s,
        settings.runner_failures,
        settings.runner_cooldown_s,
        settings.runner_first_token_timeout_s,
        settings.runner_token_timeout_s,
        settings.max_queue,
        settings.queue_timeout_s,
    )
    return RunnerPool(runners, metrics, policy)


__all__ = ["BackendError", "ChatBackend", "ChatChunk", "ModelInfo", "make_pool", "make_runner"]
