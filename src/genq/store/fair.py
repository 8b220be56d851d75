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

from sqlalchemy import bindparam, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from genq.store.base import NewJob
from genq.store.schema import ACTIVE_SQL, jobs

# The rank the queue serves next: its ready head (the claim order's first row).
_HEAD = (
    select(jobs.c.fair_rank)
    .where(jobs.c.queue == bindparam("rank_queue"), jobs.c.status == literal_column("'queued'"))
    .order_by(jobs.c.priority.desc(), jobs.c.fair_rank, jobs.c.id)
    .limit(1)
    .scalar_subquery()
)
# The rank after the owner's newest among their active jobs in the queue.
_NEXT_OWN = (
    select(func.max(jobs.c.fair_rank) + 1)
    .where(
        jobs.c.owner == bindparam("rank_owner"),
        jobs.c.queue == bindparam("rank_queue"),
        literal_column(ACTIVE_SQL),
    )
    .scalar_subquery()
)
# A new job's rank, as SQL: the later of the queue's head and the owner's next rank. An
# INSERT of one job computes it in the same statement (no extra round trip while the
# submission holds the write lock); batches ask for it once per owner and queue.
RANK = case(
    (func.coalesce(_NEXT_OWN, 0) > func.coalesce(_HEAD, 0), _NEXT_OWN),
    else_=func.coalesce(_HEAD, 0),
)
_SELECT_RANK = select(RANK)


def rank_params(nj: NewJob) -> dict[str, str]:
    """The parameters :data:`RANK` reads for a new job."""
    return {"rank_queue": nj.queue, "rank_owner": nj.owner}


async def assign_ranks(conn: AsyncConnection, new_jobs: Sequence[NewJob]) -> None:
    """Set ``fair_rank`` on each new job, in order, per (owner, queue)."""
    following: dict[tuple[str, str], int] = {}
    for nj in new_jobs:
        key = (nj.owner, nj.queue)
        rank = following.get(key)
        if rank is None:
            rank = int((await conn.execute(_SELECT_RANK, rank_params(nj))).scalar_one())
        nj.fair_rank = rank
        following[key] = rank + 1
