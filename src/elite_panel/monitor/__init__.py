"""Qt-free resource sampling: host, services, NVIDIA GPUs, models and the server's metrics."""
