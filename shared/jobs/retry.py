"""Retrying jobs through transient faults (`shared.db.faults`): arq `Retry` with a capped backoff, for as long as
the fault lasts. Every job is safe to run again (at-least-once), so a retry is always allowed."""

import logging
import random

from arq import Retry

from shared.db.faults import is_transient
from shared.jobs.context import JobContext

log = logging.getLogger(__name__)
# Seconds before try n+1 after a transient fault; the last figure repeats for as long as the fault lasts.
TRANSIENT_BACKOFF_S = (0.5, 1, 2, 5, 10, 20, 30)
# arq counts every try; a job that retries transient faults gets this many, over a week at the last delay above
# (arq forgets a job's try count a day after its last try, so an outage longer than that starts it afresh).
FOREVER_TRIES = 25_000


def backoff_s(job_try: int) -> float:
    """The delay before the next try, jittered ±20% so workers coming back from an outage do not stampede."""
    base = TRANSIENT_BACKOFF_S[min(max(job_try, 1), len(TRANSIENT_BACKOFF_S)) - 1]
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def retry_if_transient(exc: BaseException, ctx: JobContext, what: str) -> None:
    """Raise arq `Retry` (with backoff) when `exc` is transient; return when it is not."""
    if isinstance(exc, Retry) or not is_transient(exc):
        return
    job_try = ctx.get("job_try", 1)
    delay = backoff_s(job_try)
    log.warning("%s hit a transient fault (try %d), retrying in %.1fs: %r", what, job_try, delay, exc)
    raise Retry(defer=delay) from exc
