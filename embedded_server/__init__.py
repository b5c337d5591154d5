"""The Elite Coding Assistant server: a FastAPI app in front of a local model runner."""

__version__ = "0.1.0"
