"""The Sectors servicer. Assigned agents are checked against identity's members before the
transaction opens (no database connection is held while identity answers; identity away is a
503 with Retry-After, nothing is guessed)."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.inbox.v1 import sectors_pb2, sectors_pb2_grpc
from services.inbox.clients.identity import Members
from services.inbox.domain import sectors
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.principal import current_principal
from services.kit.protos import masked_changes, optional, to_proto
from services.kit.rows import Unset


class SectorsApi(sectors_pb2_grpc.SectorsServicer):
    def __init__(self, db: Database, members: Members) -> None:
        self.db = db
        self.members = members

    async def _members_only(self, user_ids: list[int]) -> list[int]:
        found = await self.members.existing(current_principal().tenant_id, user_ids)
        return sectors.require_members(user_ids, found)

    async def ListSectors(
        self, request: sectors_pb2.ListSectorsRequest, context: grpc.aio.ServicerContext
    ) -> sectors_pb2.ListSectorsResponse:
        async with self.db.reader() as uow:
            page = await sectors.list_page(uow, PageQuery.from_proto(request.page))
        return sectors_pb2.ListSectorsResponse(
            items=[to_proto(s, sectors_pb2.Sector) for s in page.items], meta=page.meta()
        )

    async def CreateSector(
        self, request: sectors_pb2.CreateSectorRequest, context: grpc.aio.ServicerContext
    ) -> sectors_pb2.Sector:
        user_ids = await self._members_only(list(request.user_ids))
        async with self.db.unit_of_work() as uow:
            sector = await sectors.create(
                uow,
                name=request.name,
                description=optional(request, "description"),
                user_ids=user_ids,
            )
        return to_proto(sector, sectors_pb2.Sector)

    async def UpdateSector(
        self, request: sectors_pb2.UpdateSectorRequest, context: grpc.aio.ServicerContext
    ) -> sectors_pb2.Sector:
        asked = masked_changes(request, sectors.SectorUpdate)
        if not isinstance(asked.user_ids, Unset):
            await self._members_only(asked.user_ids)
        async with self.db.unit_of_work() as uow:
            sector = await sectors.update(uow, request.id, asked)
        return to_proto(sector, sectors_pb2.Sector)

    async def DeleteSector(
        self, request: sectors_pb2.SectorRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await sectors.delete(uow, request.id)
        return empty_pb2.Empty()
