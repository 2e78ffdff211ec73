"""What both command lines share: serve in the background until SIGINT or SIGTERM, then stop cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol


class Serving(Protocol):
    """An emulator that serves in a background thread (``CDataSyncEmulator``, ``AISquaredEmulator``)."""

    def start(self) -> object: ...

    def stop(self) -> None: ...


def serve_until_signalled(server: Serving, banner: Callable[[], list[str]]) -> int:
    """Start ``server``, print ``banner()`` (it may use the bound port), and stop on SIGINT or SIGTERM.

    :param server: the emulator to run.
    :param banner: the lines to print once the server listens.
    :return: the exit code, 0.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server.start()
    for line in banner():
        print(line, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
