"""A minimal fake CData Sync API v2 for benchmarks, on raw asyncio (so the server costs little CPU).

Job ``job-<i>`` has run ``r<i>``, started at ``--t0`` and finishing at ``t0 + start_after + spread*i/n``.
Serves the workspace job list (status + last run id) and one run's history record; counts requests and
prints them as JSON on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter


class FakeSync:
    """Run timings and the two answers the pollers need."""

    def __init__(self, n: int, t0: float, start_after: float, spread: float) -> None:
        self.n = n
        self.finish = {f"job-{i}": t0 + start_after + spread * i / max(n, 1) for i in range(n)}
        self.counts: Counter[str] = Counter()

    def status(self, job_id: str) -> str:
        return "Success" if time.time() >= self.finish[job_id] else "Running"

    def job_list(self) -> bytes:
        now = time.time()
        jobs = [
            {
                "id": job_id,
                "name": job_id,
                "status": "Idle" if now >= end else "Running",
                "last_run_id": "r" + job_id[4:],
            }
            for job_id, end in self.finish.items()
        ]
        return json.dumps({"value": jobs}).encode()

    def history(self, job_id: str) -> bytes:
        return json.dumps({"id": "r" + job_id[4:], "job_id": job_id, "status": self.status(job_id)}).encode()

    def answer(self, path: str) -> tuple[int, bytes]:
        parts = path.split("?")[0].strip("/").split("/")
        # api.rsc/v2/workspaces/default/jobs  |  api.rsc/v2/jobs/<id>/history/<run>
        if parts[2:3] == ["workspaces"] and parts[-1] == "jobs":
            self.counts["list"] += 1
            return 200, self.job_list()
        if parts[2:3] == ["jobs"] and len(parts) == 6 and parts[4] == "history" and parts[3] in self.finish:
            self.counts["history"] += 1
            return 200, self.history(parts[3])
        self.counts["other"] += 1
        return 404, b'{"error": {"message": "not found"}}'


async def handle(fake: FakeSync, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode()
            _, path, _ = request_line.split(" ", 2)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            status, body = fake.answer(path)
            reason = "OK" if status == 200 else "Not Found"
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--t0", type=float, required=True)
    parser.add_argument("--start-after", type=float, default=20.0)
    parser.add_argument("--spread", type=float, default=10.0)
    args = parser.parse_args()
    fake = FakeSync(args.n, args.t0, args.start_after, args.spread)
    server = await asyncio.start_server(lambda r, w: handle(fake, r, w), "127.0.0.1", args.port, backlog=4096)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    sys.stdout.write(json.dumps(dict(fake.counts)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
