"""Tasks by name: a service enqueues work without importing the task module that imports it.

Task modules import their services (tasks are thin wrappers), so a service that hands work on
cannot import its task module back without a cycle. It asks Celery's registry by name instead;
the name is the task's published identity anyway (it is what the broker carries).
"""

from __future__ import annotations

from functools import cache

from celery import Task

from portal.celery import app


@cache
def _tasks_registered() -> None:
    # Imports every app's ``tasks`` module once (Celery's autodiscovery, as a worker does).
    app.loader.import_default_modules()


def task_named(name: str) -> Task:
    """The registered task called ``name``; KeyError for a name no app defines."""
    _tasks_registered()
    return app.tasks[name]
