"""Errors of the sandbox carrier's operations, answered by its API as Xoxzo would."""

from __future__ import annotations


class SandboxError(Exception):
    pass


class SandboxValidationError(SandboxError):
    """Answered as 400 with ``errors``: ``{"field": ["message", ...]}`` like DRF."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class SandboxNotFound(SandboxError):
    """Answered as 404, alike for a missing object and another account's."""
