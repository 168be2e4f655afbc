"""ponder: agents for reasoning models of the DeepSeek-R1 class."""

__version__ = "0.1.0"
