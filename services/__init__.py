"""The one service layer: every use case the CLI, the HTTP API and the pages offer.

Services are wired once by ``services.bootstrap.Bootstrap`` (settings, the event store, the read
models, the Temporal client) and translate every failure into a typed ``DomainError`` with a
stable code and a Chinese message. Entrypoints only translate arguments and render results.
"""
