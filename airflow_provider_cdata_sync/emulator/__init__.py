"""A local emulator of the CData Sync server (API v2, API v1/OData, console pages, fault injection).

Start it from Python with :class:`CDataSyncEmulator` or from the command line with
``python -m airflow_provider_cdata_sync.emulator`` (see ``README.md`` in this folder).
"""

from .server import CDataSyncEmulator

__all__ = ["CDataSyncEmulator"]
