"""A local emulator of the CData Sync server (API v2, API v1/OData, console pages, fault injection).

Start it from Python with :class:`CDataSyncEmulator` or from the command line with
``cdata-sync-emulator`` / ``python -m cdata_sync_emulator`` (see ``emulator/README.md``); its answers come
in one of three dialects (:mod:`cdata_sync_emulator.dialects`: ``default``, ``pascal``, ``v1-real``).
The AI Squared (Multiwoven) emulator lives in :mod:`cdata_sync_emulator.aisquared`; pytest fixtures in
:mod:`cdata_sync_emulator.pytest_plugin`.
"""

from .server import CDataSyncEmulator

__version__ = "0.1.0"

__all__ = ["CDataSyncEmulator"]
