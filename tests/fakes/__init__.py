"""Fake provider servers: real HTTP on 127.0.0.1, each proven by the provider's official SDK.

| module            | class             | speaks                                                  |
| ----------------- | ----------------- | ------------------------------------------------------- |
| `openai_compat`   | `FakeOpenAI`      | chat-completions, /models, OpenRouter /key, NanoGPT balance |
| `anthropic`       | `FakeAnthropic`   | Messages API, named SSE events, paged /v1/models         |
| `gemini`          | `FakeGemini`      | generateContent / streamGenerateContent?alt=sse, paging  |
| `cohere`          | `FakeCohere`      | /v2/chat typed SSE events, /v1/models                    |
| `azure_openai`    | `FakeAzureOpenAI` | deployment URLs, api-key, api-version                    |
| `vertex`          | `FakeVertex`      | OAuth token endpoint + rawPredict / generateContent      |
| `novelai`         | `FakeNovelAI`     | /ai/generate(-stream), /user/subscription, /oa/v1        |

Control API (see `server.py`): `.url` / `.base_url`, `.requests`, `.fail_next(...)`, `.plan`
(stream misbehaviour), `.reply` (what the model says), `.keys` (accepted keys), `.reset()`.
pytest fixtures for all of them, and `http_client` (the guarded client with loopback allowed),
live in `tests/fakes/fixtures.py`: `from tests.fakes.fixtures import *` in a conftest.
"""
