"""The project index: a developer's code, chunked, embedded and searched on their machine."""
