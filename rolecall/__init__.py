"""RoleCall: a self-hostable bring-your-own-key LLM platform."""

__version__ = "0.1.0"
