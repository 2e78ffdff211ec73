"""A minimal fake CData Sync API v2 for benchmarks, on raw asyncio (so the server costs little CPU).

Job ``job-<i>`` (``i < --n``) has run ``r<i>``, started at ``--t0`` and finishing at
``t0 + start_after + spread*i/n``; ``--jobs`` more idle jobs fill the workspace (a workspace much larger
than the number of waits). Serves the workspace job list (with status and last run id, or without them:
``--no-list-status``; paged with ``@odata.nextLink`` by ``--page-size``) and one run's history record,
each answered after ``--latency-ms`` (a server that is not on loopback). Counts requests and bytes and
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
    """Run timings and the answers the pollers need."""

    def __init__(
        self,
        n: int,
        t0: float,
        start_after: float,
        spread: float,
        jobs: int = 0,
        list_status: bool = True,
        page_size: int = 0,
        port: int = 0,
    ) -> None:
        self.n = n
        self.finish = {f"job-{i}": t0 + start_after + spread * i / max(n, 1) for i in range(n)}
        self.job_ids = [f"job-{i}" for i in range(max(n, jobs))]
        self.list_status = list_status
        self.page_size = page_size
        self.port = port
        self.counts: Counter[str] = Counter()

    def status(self, job_id: str) -> str:
        return "Success" if time.time() >= self.finish[job_id] else "Running"

    def job_list(self, page: int) -> bytes:
        now = time.time()
        ids = self.job_ids
        if self.page_size:
            ids = ids[(page - 1) * self.page_size : page * self.page_size]
        jobs = []
        for job_id in ids:
            entry: dict[str, object] = {"id": job_id, "name": job_id}
            if self.list_status:
                end = self.finish.get(job_id)
                entry["status"] = "Running" if end is not None and now < end else "Idle"
                entry["last_run_id"] = "r" + job_id[4:] if end is not None else None
            jobs.append(entry)
        body: dict[str, object] = {"value": jobs}
        if self.page_size and page * self.page_size < len(self.job_ids):
            body["@odata.nextLink"] = (
                f"http://127.0.0.1:{self.port}/api.rsc/v2/workspaces/default/jobs?page={page + 1}"
            )
        return json.dumps(body).encode()

    def history(self, job_id: str) -> bytes:
        return json.dumps({"id": "r" + job_id[4:], "job_id": job_id, "status": self.status(job_id)}).encode()

    def answer(self, target: str) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        parts = path.strip("/").split("/")
        # api.rsc/v2/workspaces/default/jobs  |  api.rsc/v2/jobs/<id>/history/<run>
        if parts[2:3] == ["workspaces"] and parts[-1] == "jobs":
            self.counts["list"] += 1
            page = int(query.split("page=")[1].split("&")[0]) if "page=" in query else 1
            return 200, self.job_list(page)
        if parts[2:3] == ["jobs"] and len(parts) == 6 and parts[4] == "history" and parts[3] in self.finish:
            self.counts["history"] += 1
            return 200, self.history(parts[3])
        self.counts["other"] += 1
        return 404, b'{"error": {"message": "not found"}}'


async def handle(
    fake: FakeSync, latency: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
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
            if latency:
                await asyncio.sleep(latency)
            status, body = fake.answer(path)
            fake.counts["bytes"] += len(body)
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
    parser.add_argument("--jobs", type=int, default=0, help="jobs in the workspace (at least --n)")
    parser.add_argument("--no-list-status", action="store_true", help="job list without status")
    parser.add_argument("--page-size", type=int, default=0, help="page the job list (0: one page)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer every request this late")
    args = parser.parse_args()
    fake = FakeSync(
        args.n,
        args.t0,
        args.start_after,
        args.spread,
        args.jobs,
        not args.no_list_status,
        args.page_size,
        args.port,
    )
    latency = args.latency_ms / 1000
    server = await asyncio.start_server(
        lambda r, w: handle(fake, latency, r, w), "127.0.0.1", args.port, backlog=8192
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    sys.stdout.write(json.dumps(dict(fake.counts)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
