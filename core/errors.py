"""The two kinds of error the app shows as they are; anything else is a bug and is reported as one.

- `UserError`: a bad input, setting or file. Its message says what is wrong and what to do.
- `Unavailable`: something the app needs is missing (data not downloaded, no network, no server).

Every module in `core` raises subclasses of these, so the UI catches `AppError` and nothing wider.
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error whose message is meant for the learner."""


class UserError(AppError, ValueError):
    """A bad input, setting or file; the message says what to fix."""


class Unavailable(AppError, RuntimeError):
    """Missing data, network or an optional server; the message says how to get it."""
