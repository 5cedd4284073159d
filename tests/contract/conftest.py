"""Contract tests: the official SDKs talk to our fakes; if they are happy, the fakes are faithful.

The root conftest already scrubs OPENAI_API_KEY-style variables and proxies from the
environment; SDK clients here always get their key and base URL explicitly, with retries off.
"""

from tests.fakes.fixtures import *  # noqa: F403
