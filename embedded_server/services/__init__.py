"""The server's work behind the routes: each service is built once in ``app.py``."""
