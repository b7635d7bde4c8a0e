"""What the API process holds for its lifetime: settings, database and job queue."""

from dataclasses import dataclass

from shared.db.engine import Database
from shared.jobs.queue import JobQueue
from shared.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    queue: JobQueue
