"""A local AI Squared (Multiwoven) emulator: the syncs API on its own app and loopback port.

Syncs run for real between the emulator's SQLite connections (see :mod:`.engine`); the HTTP API is in
:mod:`.app`; :class:`AISquaredEmulator` serves it in a background thread; :func:`seed_demo` creates a shop
database, a CRM and two models. From the command line: ``aisquared-emulator`` (``python -m
cdata_sync_emulator.aisquared``). ``mode="oss"`` follows the open-source server's code (:mod:`.oss`): login
with email and password for expiring, revocable JWTs, a mandatory ``Workspace-Id``, its errors in its
order.

    with AISquaredEmulator(tmp_path, token="t0ken", workspace_id="7") as server:
        seed_demo(server)
        ...  # AISquaredConfig(base_url=server.api_url, token="t0ken", workspace_id="7")
"""

from .seed import Demo, seed_demo
from .server import AISquaredEmulator

__all__ = ["AISquaredEmulator", "Demo", "seed_demo"]
