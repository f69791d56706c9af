"""Billing's events scheduling follows: billing.deposit.paid marks a deposit paid."""

from __future__ import annotations

from nats.aio.msg import Msg

from plixa.billing.v1.events_pb2 import DepositPaid
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork
from services.scheduling.domain.payments import mark_deposit_paid


async def deposit_paid(uow: UnitOfWork, msg: Msg) -> None:
    event = DepositPaid.FromString(msg.data)
    await mark_deposit_paid(uow, event.tenant_id, event.appointment_id)


SUBSCRIPTIONS = [
    Subscription("scheduling-deposit-paid", "billing.deposit.paid", deposit_paid),
]
