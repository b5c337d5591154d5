"""The Chat page's parts: the conversation list (a model and its view), the thread, the
composer; :mod:`elite_panel.ui.pages.chat_page` puts them together."""
