"""pytest fixtures for the fakes and the guarded HTTP client. Import them into a conftest:

```python
from tests.fakes.fixtures import fake_openai, http_client  # noqa: F401
```

Each fake runs once per session (`_..._server`) and is reset before and after every test, so a
test always starts from the defaults whatever the previous one did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from rolecall.net import NetworkPolicy, make_client
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGemini
from tests.fakes.novelai import FakeNovelAI
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import FakeServer
from tests.fakes.vertex import FakeVertex

__all__ = [
    "LOOPBACK_ONLY", "http_client",
    "_openai_server", "fake_openai",
    "_anthropic_server", "fake_anthropic",
    "_gemini_server", "fake_gemini",
    "_cohere_server", "fake_cohere",
    "_azure_server", "fake_azure",
    "_vertex_server", "fake_vertex",
    "_novelai_server", "fake_novelai",
]

LOOPBACK_ONLY = NetworkPolicy(allow_private=("127.0.0.0/8",))


def _serve(fake: FakeServer) -> Iterator[FakeServer]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _fresh(fake: FakeServer) -> Iterator[FakeServer]:
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeServer]:
    yield from _serve(FakeOpenAI())


@pytest.fixture
def fake_openai(_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from _fresh(_openai_server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[FakeServer]:
    yield from _serve(FakeAnthropic())


@pytest.fixture
def fake_anthropic(_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    yield from _fresh(_anthropic_server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def _gemini_server() -> Iterator[FakeServer]:
    yield from _serve(FakeGemini())


@pytest.fixture
def fake_gemini(_gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    yield from _fresh(_gemini_server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def _cohere_server() -> Iterator[FakeServer]:
    yield from _serve(FakeCohere())


@pytest.fixture
def fake_cohere(_cohere_server: FakeCohere) -> Iterator[FakeCohere]:
    yield from _fresh(_cohere_server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def _azure_server() -> Iterator[FakeServer]:
    yield from _serve(FakeAzureOpenAI())


@pytest.fixture
def fake_azure(_azure_server: FakeAzureOpenAI) -> Iterator[FakeAzureOpenAI]:
    yield from _fresh(_azure_server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def _vertex_server() -> Iterator[FakeServer]:
    yield from _serve(FakeVertex())


@pytest.fixture
def fake_vertex(_vertex_server: FakeVertex) -> Iterator[FakeVertex]:
    yield from _fresh(_vertex_server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def _novelai_server() -> Iterator[FakeServer]:
    yield from _serve(FakeNovelAI())


@pytest.fixture
def fake_novelai(_novelai_server: FakeNovelAI) -> Iterator[FakeNovelAI]:
    yield from _fresh(_novelai_server)  # type: ignore[misc]


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The real guarded client from rolecall.net, with loopback allowed (and nothing else)."""
    async with make_client(LOOPBACK_ONLY, connect_timeout=2.0, read_timeout=5.0) as client:
        yield client
