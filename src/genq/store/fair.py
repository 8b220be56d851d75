"""Fair share between owners: each new job gets a rank, and claims take the lowest first.

Start-time fair queuing, in job counts rather than time. Within a queue, an owner's jobs
are ranked 0, 1, 2, ... in submission order, starting no lower than the rank the queue is
serving now (its head's). So with user A's thousand jobs waiting at ranks 0..999 and the
head at rank 10, user B's one job gets rank 10 and is claimed next-but-one, while A's next
thousand jobs go after A's own. Claims order by priority first: a rank only decides between
jobs of the same priority.

Two submissions of one owner running at once may give equal ranks; ties go to the older
job, which is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from genq.store.base import NewJob
from genq.store.schema import ACTIVE_SQL, jobs

# The rank the queue serves next: its ready head (the claim order's first row).
_HEAD = (
    select(jobs.c.fair_rank)
    .where(jobs.c.queue == bindparam("queue"), jobs.c.status == literal_column("'queued'"))
    .order_by(jobs.c.priority.desc(), jobs.c.fair_rank, jobs.c.id)
    .limit(1)
)
# The owner's newest rank among their active jobs in the queue.
_OWN = select(func.max(jobs.c.fair_rank)).where(
    jobs.c.owner == bindparam("owner"),
    jobs.c.queue == bindparam("queue"),
    literal_column(ACTIVE_SQL),
)


async def assign_ranks(conn: AsyncConnection, new_jobs: Sequence[NewJob]) -> None:
    """Set ``fair_rank`` on each new job, in order, per (owner, queue)."""
    following: dict[tuple[str, str], int] = {}
    heads: dict[str, int] = {}
    for nj in new_jobs:
        key = (nj.owner, nj.queue)
        rank = following.get(key)
        if rank is None:
            if nj.queue not in heads:
                head = (await conn.execute(_HEAD, {"queue": nj.queue})).scalar()
                heads[nj.queue] = int(head or 0)
            own = (await conn.execute(_OWN, {"owner": nj.owner, "queue": nj.queue})).scalar()
            rank = heads[nj.queue] if own is None else max(heads[nj.queue], int(own) + 1)
        nj.fair_rank = rank
        following[key] = rank + 1
