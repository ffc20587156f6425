"""The web pages and the HTTP API (FastAPI, Jinja2, htmx): over the same services as the CLI."""
