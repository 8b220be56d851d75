"""Credits (seed 002): balances, usage and grants. Spending and refunds happen in the
store, in the same transaction as the job change that causes them."""

from __future__ import annotations

from genq.domain.errors import InvalidRequest
from genq.store.base import LedgerEntry, Store

GRANT_KINDS = ("grant", "purchase")
MAX_GRANT = 1_000_000_000


class CreditService:
    """What the billing API asks of the ledger."""

    def __init__(self, store: Store, costs: dict[str, int]) -> None:
        self.store = store
        self.costs = costs

    @property
    def enabled(self) -> bool:
        """Credits are on when some job type has a cost."""
        return any(self.costs.values())

    def cost(self, job_type: str) -> int:
        """What one job of this type costs a user."""
        return self.costs.get(job_type, self.costs.get("*", 0))

    async def balance(self, user_id: str) -> int:
        return await self.store.credit_balance(user_id)

    async def usage(self, user_id: str, limit: int, offset: int) -> tuple[list[LedgerEntry], int]:
        return await self.store.credit_entries(user_id, limit, offset)

    async def grant(self, user_id: str, amount: int, kind: str, note: str | None) -> LedgerEntry:
        """Add credits to a user's ledger (an admin's grant, or a recorded purchase)."""
        if kind not in GRANT_KINDS:
            raise InvalidRequest(
                f"kind must be one of {', '.join(GRANT_KINDS)}",
                {"field": "kind", "allowed": list(GRANT_KINDS)},
            )
        if not 0 < amount <= MAX_GRANT:
            raise InvalidRequest(f"amount must be between 1 and {MAX_GRANT}", {"field": "amount"})
        return await self.store.add_credits(user_id, amount, kind, note)
