"""Fixtures for adapter tests: the protocol fakes and the real guarded client (loopback only)."""

from tests.fakes.fixtures import *  # noqa: F403
