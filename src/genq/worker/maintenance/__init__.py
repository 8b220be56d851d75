"""Background duties, each a small service with a ``run_once`` that returns what it did."""

from genq.worker.maintenance.cleaner import Cleaner
from genq.worker.maintenance.health import HealthChecker
from genq.worker.maintenance.reaper import Reaper
from genq.worker.maintenance.scheduler import Scheduler
from genq.worker.maintenance.service import Maintenance

__all__ = ["Cleaner", "HealthChecker", "Maintenance", "Reaper", "Scheduler"]
