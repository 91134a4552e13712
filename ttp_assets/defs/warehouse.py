"""The warehouse as a resource: assets read what they stored before (open partitions)."""

import dagster as dg
from pydantic import Field

from ..core.storage.catalog import open_store
from ..core.storage.location import open_location
from ..core.storage.partitions_reader import PartitionStore


class WarehouseResource(dg.ConfigurableResource):
    """The storage the IO managers write to, opened per table for reading."""

    storage_uri: str = Field(description="Same location as the IO managers'")

    def store(self, table: str) -> PartitionStore:
        return open_store(open_location(self.storage_uri), table)
