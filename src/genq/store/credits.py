"""Credits: the ledger and the balance, written inside the caller's transaction.

The ledger (``genq_credit_ledger``) is append-only and is the truth; an account row keeps
its running total, changed only in the same transaction as an entry, with a CHECK that it
never goes below zero. Spending is one conditional ``UPDATE ... WHERE balance >= cost``,
so two concurrent submissions can never both spend the last credits: the row lock makes
the second one see the first one's result.

A job holds what it cost in its ``charged`` column. A refund zeroes that column in the
transaction that ends the job, so a job is refunded at most once whatever runs twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from genq.domain.errors import InsufficientCredits
from genq.store.base import LedgerEntry
from genq.store.schema import credit_accounts, credit_ledger, jobs

GRANT, PURCHASE, CONSUME, REFUND = "grant", "purchase", "consume", "refund"
KINDS = (GRANT, PURCHASE, CONSUME, REFUND)

_SPEND = (
    update(credit_accounts)
    .where(
        credit_accounts.c.user_id == bindparam("u"),
        credit_accounts.c.balance >= bindparam("amount"),
    )
    .values(balance=credit_accounts.c.balance - bindparam("amount"), updated_at=bindparam("now"))
    .returning(credit_accounts.c.balance)
)
_INSERT_ENTRY = credit_ledger.insert().returning(*credit_ledger.c)
_INSERT_ENTRIES = credit_ledger.insert().returning(*credit_ledger.c, sort_by_parameter_order=True)
_GIVE = (
    update(credit_accounts)
    .where(credit_accounts.c.user_id == bindparam("u"))
    .values(balance=credit_accounts.c.balance + bindparam("amount"), updated_at=bindparam("now"))
    .returning(credit_accounts.c.balance)
)


def row_to_entry(row: Row[Any]) -> LedgerEntry:
    m = row._mapping
    return LedgerEntry(
        id=m["id"],
        user_id=m["user_id"],
        kind=m["kind"],
        amount=m["amount"],
        balance_after=m["balance_after"],
        job_id=m["job_id"],
        note=m["note"],
        created_at=m["created_at"],
    )


async def balance(conn: AsyncConnection, user_id: str) -> int:
    """The user's balance; 0 when they have no account yet."""
    stmt = select(credit_accounts.c.balance).where(credit_accounts.c.user_id == user_id)
    value = (await conn.execute(stmt)).scalar()
    return int(value or 0)


async def _append(
    conn: AsyncConnection,
    user_id: str,
    items: Sequence[tuple[str, int, str | None, str | None]],
    final: int,
    now: float,
) -> list[LedgerEntry]:
    """Entries (kind, signed amount, job id, note) ending at balance ``final``."""
    running = final - sum(amount for _, amount, _, _ in items)
    rows = []
    for kind, amount, job_id, note in items:
        running += amount
        rows.append(
            {
                "user_id": user_id,
                "kind": kind,
                "amount": amount,
                "balance_after": running,
                "job_id": job_id,
                "note": note,
                "created_at": now,
            }
        )
    if len(rows) == 1:
        return [row_to_entry((await conn.execute(_INSERT_ENTRY, rows[0])).one())]
    return [row_to_entry(r) for r in await conn.execute(_INSERT_ENTRIES, rows)]


async def give(
    conn: AsyncConnection,
    user_id: str,
    items: Sequence[tuple[str, int, str | None, str | None]],
    now: float,
) -> list[LedgerEntry]:
    """Add credits (grants, purchases, refunds: positive amounts) to a user's account."""
    total = sum(amount for _, amount, _, _ in items)
    if total <= 0:
        raise ValueError("credits given must be positive")
    row = (await conn.execute(_GIVE, {"u": user_id, "amount": total, "now": now})).first()
    if row is None:
        # The first credits a user gets open the account. Two first grants racing: the
        # loser's insert conflicts, and its transaction is retried by the caller.
        await conn.execute(
            credit_accounts.insert(), {"user_id": user_id, "balance": total, "updated_at": now}
        )
        final = total
    else:
        final = int(row[0])
    return await _append(conn, user_id, items, final, now)


async def spend(
    conn: AsyncConnection, user_id: str, charges: Sequence[tuple[str, int]], now: float
) -> None:
    """Take the cost of new jobs ((job id, cost) pairs) or raise InsufficientCredits."""
    charges = [(job_id, cost) for job_id, cost in charges if cost > 0]
    required = sum(cost for _, cost in charges)
    if required == 0:
        return
    row = (await conn.execute(_SPEND, {"u": user_id, "amount": required, "now": now})).first()
    if row is None:
        available = await balance(conn, user_id)
        raise InsufficientCredits(
            f"this needs {required} credits and {available} are available",
            {"required": required, "available": available},
        )
    items = [(CONSUME, -cost, job_id, None) for job_id, cost in charges]
    await _append(conn, user_id, items, int(row[0]), now)


async def refund(conn: AsyncConnection, job_ids: Sequence[str], now: float) -> None:
    """Give back what these jobs hold (only those still holding credits)."""
    if not job_ids:
        return
    held = (
        await conn.execute(
            select(jobs.c.id, jobs.c.owner, jobs.c.charged).where(
                jobs.c.id.in_(list(job_ids)), jobs.c.charged > 0
            )
        )
    ).all()
    if not held:
        return
    await conn.execute(update(jobs).where(jobs.c.id.in_([r[0] for r in held])).values(charged=0))
    by_owner: dict[str, list[tuple[str, int, str | None, str | None]]] = defaultdict(list)
    for job_id, owner, charged in held:
        by_owner[owner].append((REFUND, int(charged), job_id, None))
    # One account at a time, in a fixed order, so concurrent refunds cannot deadlock.
    for owner in sorted(by_owner):
        await give(conn, owner, by_owner[owner], now)


async def entries(
    conn: AsyncConnection, user_id: str, limit: int, offset: int
) -> tuple[list[LedgerEntry], int]:
    """A page of the user's ledger, newest first, and how many entries there are."""
    stmt = (
        select(credit_ledger)
        .where(credit_ledger.c.user_id == user_id)
        .order_by(credit_ledger.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    page = [row_to_entry(r) for r in await conn.execute(stmt)]
    count = select(func.count()).where(credit_ledger.c.user_id == user_id)
    total = (await conn.execute(count)).scalar()
    return page, int(total or 0)
