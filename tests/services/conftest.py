"""Service tests talk to the provider fakes over real sockets."""

from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
