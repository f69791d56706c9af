"""SQL for the TOTP second factor of a member (`users`) or a staff account (`staff`): both tables
carry the same three columns. Every change that must happen once (confirming, spending a time
step) is one conditional UPDATE … RETURNING, so parallel requests cannot both win."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table, Update, or_

from services.identity.store.tables import staff, users
from services.kit.db import UnitOfWork


@dataclass(frozen=True)
class Holder:
    """Whose second factor: a member (with their workspace) or a staff account."""

    kind: Literal["user", "staff"]
    id: int
    tenant_id: int | None = None  # a member's workspace

    @property
    def table(self) -> Table:
        return users if self.kind == "user" else staff


def _update(uow: UnitOfWork, holder: Holder) -> Update:
    if holder.kind == "user":
        assert holder.tenant_id is not None
        statement = uow.scope_of(holder.tenant_id).update(users)
    else:
        statement = staff.update()
    return statement.where(holder.table.c.id == holder.id)


async def _changed(uow: UnitOfWork, holder: Holder, statement: Update, **values: Any) -> bool:
    returning = statement.values(**values).returning(holder.table.c.id)
    return (await uow.conn.execute(returning)).first() is not None


async def set_seed(uow: UnitOfWork, holder: Holder, sealed_seed: str) -> None:
    statement = _update(uow, holder)
    await _changed(uow, holder, statement, two_factor_secret=sealed_seed, two_factor_last_step=None)


async def enable(
    uow: UnitOfWork, holder: Holder, sealed_seed: str, at: datetime, step: int
) -> bool:
    """Turns two-factor on with the seed that was confirmed; False when it is on already or the
    seed changed meanwhile (a parallel confirmation or a new set-up won)."""
    table = holder.table
    statement = _update(uow, holder).where(
        table.c.two_factor_enabled_at.is_(None), table.c.two_factor_secret == sealed_seed
    )
    return await _changed(
        uow, holder, statement, two_factor_enabled_at=at, two_factor_last_step=step
    )


async def consume_step(uow: UnitOfWork, holder: Holder, step: int) -> bool:
    """Spends a TOTP time step: True for exactly one caller, and only for a step later than the
    last one spent (the row lock makes a parallel UPDATE re-check the condition)."""
    table = holder.table
    statement = _update(uow, holder).where(
        table.c.two_factor_enabled_at.is_not(None),
        or_(table.c.two_factor_last_step.is_(None), table.c.two_factor_last_step < step),
    )
    return await _changed(uow, holder, statement, two_factor_last_step=step)


async def clear(uow: UnitOfWork, holder: Holder) -> None:
    await _changed(
        uow,
        holder,
        _update(uow, holder),
        two_factor_secret=None,
        two_factor_enabled_at=None,
        two_factor_last_step=None,
    )
