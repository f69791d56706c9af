"""Billing's internal gRPC for deposits: CreateDepositCheckout."""

from __future__ import annotations

from plixa.billing.v1 import internal_pb2
from services.kit.client import ServiceClient
from services.kit.principal import service_principal

CREATE_DEPOSIT_CHECKOUT = "/plixa.billing.v1.BillingInternal/CreateDepositCheckout"


class Billing:
    def __init__(self, client: ServiceClient, timeout: float = 10.0) -> None:
        self.client = client
        self.timeout = timeout

    async def deposit_checkout(
        self,
        tenant_id: int,
        appointment_id: int,
        amount_cents: int,
        currency: str,
        description: str,
    ) -> internal_pb2.CreateDepositCheckoutResponse:
        """{url, checkout_id, payment_id}; billing answers the same open checkout on a retry."""
        return await self.client.call(
            "billing",
            CREATE_DEPOSIT_CHECKOUT,
            internal_pb2.CreateDepositCheckoutRequest(
                tenant_id=tenant_id,
                appointment_id=appointment_id,
                amount_cents=amount_cents,
                currency=currency,
                description=description,
            ),
            internal_pb2.CreateDepositCheckoutResponse,
            principal=service_principal("scheduling", tenant_id),
            timeout=self.timeout,
        )
