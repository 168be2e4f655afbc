"""Fixtures for the server tests (helpers live in server_harness)."""

from server_harness import log_file, memory, memory_db

__all__ = ["log_file", "memory", "memory_db"]
