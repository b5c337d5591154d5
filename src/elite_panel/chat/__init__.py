"""Qt-free chat logic: incremental Markdown rendering of streamed answers."""
