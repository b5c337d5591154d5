"""Qt adapters of the Qt-free services: they run the asyncio work and emit Qt signals.

Built by the composition root (:mod:`elite_panel.app`) and handed to the widgets, which
never do I/O themselves.
"""
