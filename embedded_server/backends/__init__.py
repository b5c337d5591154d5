"""Adapters from the server's chat contract to the model runners' APIs."""

from embedded_server.backends.base import BackendError, ChatBackend, ChatChunk, ModelInfo
from embedded_server.config import Settings


def make_backend(settings: Settings) -> ChatBackend:
    """The adapter for ``ASSISTANT_BACKEND``, built on the runner's official client."""
    if settings.backend == "openai":
        from embedded_server.backends.gguf_folder import GgufFolder
        from embedded_server.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            settings.backend_url,
            settings.openai_api_key.get_secret_value(),
            GgufFolder(settings.models_dir, settings.bundled_model)
            if settings.models_dir
            else None,
        )
    from embedded_server.backends.ollama_backend import OllamaBackend

    return OllamaBackend(settings.backend_url)


__all__ = ["BackendError", "ChatBackend", "ChatChunk", "ModelInfo", "make_backend"]
