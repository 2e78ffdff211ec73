"""Shared polling of remote runs: many waits, one client, as few API calls as the answers allow.

:class:`RunPoller` offers what a direct asynchronous client offers to a wait (``look``, ``get_run``,
``current_run``, ``runs_since``, and any other read through :meth:`RunPoller.call`), so a trigger does
not care which one it holds. Behind that interface, each tick (a little faster than the interval):

* identical questions are asked once;
* per workspace and kind, it chooses between **one bulk list** (v2 workspace lists carry a status and the
  last run id; v1: ``getJobStatus`` of every job) and **per-run lookups**, by what the last ticks cost:
  pages, bytes and entries listed against the lookups the list saved. A list that carries no status is
  noticed and never listed again; a paged list is followed only while the next page is likely to answer
  more waits than it costs, and never past the point where every wait was answered. A small number of
  waits in a large workspace is therefore never listed (no more costly than polling directly);
* the lookups left run concurrently, as many at once as the measured answer time and the rate needed
  ask for (Little's law: lookups x answer time / time budget), bounded, and halved when the server
  answers 429 or 503 (its ``Retry-After`` holds every request of the poller back);
* history waits (``runs_since``) are answered from the last answer while the list shows the target's
  state and last run unchanged.

With ``coalesce=False`` the poller asks at once instead of waiting for a tick (one wait polling on its
own), still on the one shared client, connection pool and limiter. No Airflow imports: the client comes
from a factory handed in, which receives the transport wrapper that meters every request (bytes, answer
time, throttling); credentials and paging stay the client's own (``page_url`` keeps every paging link on
the configured server).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.control import Target, TargetStates
from airflow_provider_cdata_sync.client.errors import (
    CDataSyncMethodNotAllowedError,
    CDataSyncNotFoundError,
    CDataSyncUnsupportedError,
    ServiceError,
    TransportError,
)
from airflow_provider_cdata_sync.client.http import parse_retry_after
from airflow_provider_cdata_sync.client.models import Run, RunState, normalise_state

#: Wraps the transport the client will use, so that the poller sees every request (see :class:`Meter`).
TransportWrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]
#: Makes the poller's client: given the wrap, returns an async client (closed with ``aclose``).
ClientFactory = Callable[[TransportWrap], Awaitable[Any]]

#: Ticks come a little faster than the interval, so that answering a tick still delivers every wait's
#: news within one interval.
TICK_FRACTION = 0.9
#: Ticks come earlier by this many times the time a tick takes to deliver its news (see ``tick_period``).
DELIVERY_MARGIN = 1.3
#: Ticks never come earlier than half an interval.
MAX_LEAD = 0.5
#: Share of the interval the lookups of one tick should take (sizes their concurrency, within the bounds).
#: A finished run's lookup carries news: the tick's lookups must be done within the 10% of the interval
#: that a tick period (``TICK_FRACTION``) leaves, or the news arrives later than one interval. Lookups of
#: runs still going (a list without status) keep their order from tick to tick and each answer is
#: delivered as it comes, so when the bound caps the concurrency their news is still one period old.
LOOKUP_BUDGET = 0.1
#: Bounds of lookups in flight at once: a burst of finishing runs must not flood the server.
MIN_CONCURRENCY = 2
MAX_CONCURRENCY = 64
#: Answer time assumed before any was measured (seconds).
FIRST_LATENCY = 0.02
#: Bytes of list answer that cost the client about as much as one more request (measured on the project
#: machine: reading ~16 KB of list entries costs what sending and reading one small GET costs).
BYTES_PER_CALL = 16_000
#: Lookups a tick needs before an unmeasured list is tried: fewer waits are always cheaper asked directly.
PROBE_MIN_CALLS = 8
#: A list must save this much more than it costs to be chosen (hysteresis against flapping).
LIST_MARGIN = 1.25
#: Weight of the newest measurement in running averages.
EWMA = 0.3
#: Longest pause taken on a 429/503 without a ``Retry-After``.
THROTTLE_PAUSE = 5.0

AskKey = tuple[str, str, str | None, str, str]


@dataclass
class Meter:
    """What went over the wire for one poller, and the pause a throttling server asked for."""

    requests: int = 0
    bytes: int = 0
    throttled: int = 0
    pause_until: float = 0.0

    def note(self, status: int, size: int, retry_after: str | None) -> None:
        """Count one answer; a 429/503 holds every request back (``Retry-After``, else a short pause)."""
        self.requests += 1
        self.bytes += size
        if status in (429, 503):
            self.throttled += 1
            pause = parse_retry_after(retry_after)
            pause = min(THROTTLE_PAUSE, 1.0) if pause is None else min(pause, 120.0)
            loop = asyncio.get_running_loop()
            self.pause_until = max(self.pause_until, loop.time() + pause)

    async def gate(self) -> None:
        """Wait out a pause the server asked for."""
        loop = asyncio.get_running_loop()
        while (delay := self.pause_until - loop.time()) > 0:
            await asyncio.sleep(delay)


class MeteredTransport(httpx.AsyncBaseTransport):
    """An httpx transport around another one: counts requests and bytes, honours throttling pauses."""

    def __init__(self, inner: httpx.AsyncBaseTransport, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send after any pause; note the answer."""
        meter = self.meter
        if meter.pause_until:
            await meter.gate()
        response = await self.inner.handle_async_request(request)
        headers = response.headers
        meter.note(response.status_code, int(headers.get("content-length") or 0), headers.get("retry-after"))
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


@dataclass
class PollerStats:
    """Counters for benchmarks and tests."""

    ticks: int = 0
    lists: int = 0
    list_pages: int = 0
    list_bytes: int = 0
    lookups: int = 0
    answered_by_list: int = 0
    reused: int = 0
    concurrency: int = 0


@dataclass
class _ListCost:
    """What listing one workspace's targets of one kind cost and saved (running averages)."""

    cost: float | None = None  # in calls: pages + bytes / BYTES_PER_CALL
    saved_fraction: float = 1.0  # share of the group's questions the list answered
    total_items: int | None = None  # entries in the last full traversal
    unusable: str = ""  # why this list is never used (no status in it, unsupported)


@dataclass(slots=True)
class _Ask:
    what: str  # run | look | current | since | call
    target: Target | None
    arg: Any
    # The first wait's future, and those of any more asking the same (rare: one run waited on twice): the
    # common case holds no list, one object fewer per wait per tick for the garbage collector to walk.
    waiter: asyncio.Future[Any] | None = None
    more: list[asyncio.Future[Any]] | None = None

    def add(self, future: asyncio.Future[Any]) -> None:
        """One more wait asks the same question."""
        if self.more is None:
            self.more = [future]
        else:
            self.more.append(future)

    def waiters(self) -> list[asyncio.Future[Any]]:
        """Every wait's future."""
        first = [] if self.waiter is None else [self.waiter]
        return first + self.more if self.more else first


class RunPoller:
    """Answers the run questions of many waits on one server with few API calls (see the module).

    :param factory: makes the poller's client (see :data:`ClientFactory`).
    :param interval: seconds between ticks' answers (the waits' poll interval).
    :param coalesce: False: ask at once, no tick (a wait that polls alone), still on the shared client.
    :param name: the poller task's name.
    :param lean_reads: send the client's plain GETs over its lean read path (``use_lean_reads``), when it
        has one.
    """

    def __init__(
        self,
        factory: ClientFactory,
        interval: float,
        *,
        coalesce: bool = True,
        name: str = "run-poller",
        lean_reads: bool = True,
    ) -> None:
        self.factory = factory
        self.interval = float(interval)
        self.coalesce = coalesce
        self.name = name
        self.lean_reads = lean_reads
        self.meter = Meter()
        self.stats = PollerStats()
        self.latency = FIRST_LATENCY
        self.delivery = 0.0  # seconds from a tick's start until its news was delivered (running figure)
        self.cap = MAX_CONCURRENCY
        self._asks: dict[AskKey, _Ask] = {}
        self._inflight: dict[AskKey, asyncio.Future[Any]] = {}
        self._lists: dict[tuple[str, str | None], _ListCost] = defaultdict(_ListCost)
        self._since: dict[AskKey, tuple[tuple[str, str | None], Any]] = {}
        self._runs_seen: dict[tuple[str, str | None], _RunsSeen] = defaultdict(_RunsSeen)
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None
        self._client_lock: asyncio.Lock | None = None
        self._limit: asyncio.Semaphore | None = None
        self._used = 0  # questions since the last idle check (coalesce=False)

    @property
    def paces(self) -> bool:
        """Whether looks are answered at the poller's ticks (so a wait may ask again at once)."""
        return self.coalesce

    # ------------------------------------------------------------------ what a client offers
    # The questions return the awaitable of their answer rather than being coroutines themselves: thousands
    # of waits each hold one question per tick for a whole interval, and every coroutine level they hold
    # is one more object the garbage collector walks again and again (measured: collections took 40%
    # of the CPU at 5,000 waits). Await them as usual.
    def look(
        self, target: Target, run_id: str | None = None, after: datetime | None = None
    ) -> Awaitable[Any]:
        """The run a wait follows as it is now: ``run_id``; without one the active run, else the first run
        started at or after ``after`` (the latest when None); None while there is none. Await the answer.

        :param target: the job, pipeline or sync waited on.
        :param run_id: the run followed, when known.
        :param after: without ``run_id``: the first run started at or after this instant.
        """
        if run_id:
            return self._ask("run", target, str(run_id))
        return self._ask("look", target, after)

    def get_run(self, target: Target, run_id: str) -> Awaitable[Any]:
        """One run by id (await the answer).

        :param target: the job, pipeline or sync the run belongs to.
        :param run_id: the run's id.
        """
        return self._ask("run", target, str(run_id))

    def observe(self, target: Target, run_id: str) -> Awaitable[Any]:
        """The run as seen at the next tick (:meth:`get_run`).

        :param target: the job, pipeline or sync the run belongs to.
        :param run_id: the run's id.
        """
        return self._ask("run", target, str(run_id))

    def current_run(self, target: Target) -> Awaitable[Any]:
        """The queued or running run of the target, None when idle (await the answer).

        :param target: the job, pipeline or sync.
        """
        return self._ask("current", target, None)

    def runs_since(self, target: Target, since: datetime) -> Awaitable[Any]:
        """Runs started at or after ``since`` (clock skew allowed), oldest first (await the answer).

        :param target: the job, pipeline or sync.
        :param since: the cut-off instant.
        """
        return self._ask("since", target, since)

    async def resolve_target(self, kind: str, ref: str, workspace: str | None = None) -> Target:
        """Resolve a target given by id or name (at once, on the shared client)."""
        return await self.call("resolve_target", kind, ref, workspace)  # type: ignore[no-any-return]

    async def latest_run(self, target: Target) -> Any:
        """The target's most recent run (at once, on the shared client)."""
        return await self.call("latest_run", target)

    async def call(self, name: str, *args: Any) -> Any:
        """Any other read-only operation of the client (``resolve_target``, ``latest_run``...), at once,
        on the shared client; identical calls in flight are made once."""
        key: AskKey = ("call", name, None, repr(args), "")
        return await self._direct(key, _Ask("call", None, (name, args)))

    # ------------------------------------------------------------------ asking
    def _ask(self, what: str, target: Target, arg: Any) -> Awaitable[Any]:
        text = arg.isoformat() if isinstance(arg, datetime) else ("" if arg is None else str(arg))
        key: AskKey = (what, target.kind, target.workspace, target.id, text)
        if not self.coalesce:
            return self._direct(key, _Ask(what, target, arg))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queued = self._asks.get(key)
        if queued is None:
            self._asks[key] = _Ask(what, target, arg, future)
        else:
            queued.add(future)
        self._ensure_running()
        return future

    async def _direct(self, key: AskKey, ask: _Ask) -> Any:
        """Ask now (no tick), once for identical questions in flight, within the shared limiter."""
        self._used += 1
        self._ensure_running()
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._inflight[key] = future
        try:
            if self._limit is None:
                self._limit = asyncio.Semaphore(self.cap)
            async with self._limit:
                # What _timed does, inline: the triggers that poll alone make every lookup through here, and
                # each coroutine level is paid at every answer.
                try:
                    client = self._client if self._client is not None else await self._get_client()
                    self.stats.lookups += 1
                    started = loop.time()
                    try:
                        future.set_result(await _call(client, ask))
                    finally:
                        self.latency = (1 - EWMA) * self.latency + EWMA * (loop.time() - started)
                except Exception as exc:
                    future.set_exception(exc)
        finally:
            del self._inflight[key]
        if not future.done():  # pragma: no cover - cancelled before an answer
            future.cancel()
        return future.result()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        try:
            if self.coalesce:
                await self._tick_until_idle()
            else:
                await self._idle_watch()
        except asyncio.CancelledError:
            # The loop is going away: nobody may wait forever on an answer that will not come.
            asks, self._asks = self._asks, {}
            for ask in asks.values():
                _settle(ask, TransportError("The shared poller was stopped."))
            raise
        finally:
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        if self._asks or self._inflight:  # someone asked while the client was closing: this task is not
            # done yet, so _ensure_running did not start another one; start it now.
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _idle_watch(self) -> None:
        """coalesce=False: keep the client while waits ask; close it after two quiet intervals."""
        quiet = 0
        while quiet < 2:
            await asyncio.sleep(self.interval)
            quiet = 0 if (self._used or self._inflight) else quiet + 1
            self._used = 0

    async def _tick_until_idle(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.tick_period
        idle_ticks = 0
        while idle_ticks < 2:
            # Fixed-rate ticks: the time spent answering does not push the next tick back.
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            # Counted from when the tick was due: a loop busy with the waits' own steps wakes it late, and
            # that lateness delays the news as much as a slow answer does.
            started = next_tick
            asks, self._asks = self._asks, {}
            if not asks:
                # Reads made at once (resolve_target, latest_run...) keep the client too: closing it under
                # one in flight would fail it ("the client has been closed").
                busy = self._inflight or self._used
                self._used = 0
                idle_ticks = 0 if busy else idle_ticks + 1
                next_tick = max(next_tick + self.tick_period, loop.time())
                continue
            idle_ticks = 0
            self.stats.ticks += 1
            listed = await self._answer(asks)
            await asyncio.sleep(0)  # the waits just answered take their step: part of delivering the news
            # A list's news (and the lookups of the runs it shows finished) reaches the waits this long
            # after the tick. Lookups alone need no lead: each wait's lookup keeps its place in the tick
            # from tick to tick, so its news is never more than one period old.
            self._note_delivery(loop.time() - started if listed else 0.0)
            next_tick = max(next_tick + self.tick_period, loop.time())

    @property
    def tick_period(self) -> float:
        """Seconds from one tick to the next: the interval less the time a tick takes to deliver its news
        (at least the interval's last 10%, at most half of it), so that a run that finished just after one
        tick's answer is still reported within one interval of finishing, however long the answers and
        the waits' own steps take (thousands of waits, a slow server)."""
        lead = max(self.interval * (1 - TICK_FRACTION), DELIVERY_MARGIN * self.delivery)
        return self.interval - min(lead, self.interval * MAX_LEAD)

    def _note_delivery(self, seconds: float) -> None:
        # Rises at once, falls slowly: one slow tick is a sign of the next.
        self.delivery = max(seconds, (1 - EWMA) * self.delivery + EWMA * seconds)

    async def _get_client(self) -> Any:
        if self._client is None:
            if self._client_lock is None:
                self._client_lock = asyncio.Lock()
            async with self._client_lock:
                if self._client is None:
                    client = await self.factory(self.wrap)
                    if self.lean_reads and hasattr(client, "use_lean_reads"):
                        client.use_lean_reads(self.meter)
                    self._client = client
        return self._client

    def wrap(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """The transport the client is to use: ``inner``, metered."""
        return MeteredTransport(inner, self.meter)

    # ------------------------------------------------------------------ one tick
    async def _answer(self, asks: dict[AskKey, _Ask]) -> bool:
        """Answer one tick's questions; returns whether a list was read."""
        try:
            client = await self._get_client()
        except Exception as exc:  # everyone who asked in this tick learns of it
            for ask in asks.values():
                _settle(ask, exc)
            return False
        listed = False
        results: dict[AskKey, Any] = {}
        groups: dict[tuple[str, str | None], list[AskKey]] = defaultdict(list)
        for key, ask in asks.items():
            if ask.target is not None:
                groups[(ask.target.kind, ask.target.workspace)].append(key)
        for group, keys in groups.items():
            if self._should_list(client, group, keys, asks):
                listed = True
                await self._answer_from_list(client, group, keys, asks, results)
        for key, outcome in results.items():  # what the lists answered is delivered at once
            _settle(asks[key], outcome)
        pending = [key for key in asks if key not in results]
        await self._lookups(client, [(key, asks[key]) for key in pending], results)
        if self._since:
            self._since = {key: value for key, value in self._since.items() if key in asks}
        return listed

    def _should_list(
        self, client: Any, group: tuple[str, str | None], keys: list[AskKey], asks: dict[AskKey, _Ask]
    ) -> bool:
        """Whether one list is likely to save more lookups than it costs (by the last ticks' figures)."""
        costs = self._lists[group]
        if costs.unusable or not hasattr(client, "target_states_page"):
            return False
        if costs.cost is None:
            return len(keys) >= PROBE_MIN_CALLS
        return costs.saved_fraction * len(keys) > LIST_MARGIN * costs.cost

    async def _answer_from_list(
        self,
        client: Any,
        group: tuple[str, str | None],
        keys: list[AskKey],
        asks: dict[AskKey, _Ask],
        results: dict[AskKey, Any],
    ) -> None:
        kind, workspace = group
        costs = self._lists[group]
        wanted = {asks[key].target.id for key in keys}  # type: ignore[union-attr]
        states: dict[str, tuple[str, str | None]] = {}
        pages = items = size = 0
        following: Any = None
        seen: set[str] = set()
        complete = False
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                page: TargetStates = await client.target_states_page(kind, workspace, following)
                # A page's answer time also tells the lookups to come how long the server takes.
                self.latency = (1 - EWMA) * self.latency + EWMA * (loop.time() - started)
                pages += 1
                items += page.items
                size += page.size
                if not page.carries_status:
                    costs.unusable = f"the {kind} list carries no status"
                    break
                states.update(page.states)
                following = page.following
                if following is None or str(following.url) in seen:
                    complete = True
                    break
                seen.add(str(following.url))
                missing = len(wanted - states.keys())
                if not missing or not self._next_page_pays(costs, missing, page, items):
                    break
        except ServiceError as exc:
            if _unsupported(exc):
                costs.unusable = f"no bulk answer: {exc}"
                return
            for key in keys:  # the server is unwell: every wait of the group hears it (and backs off)
                results[key] = exc
            return
        finally:
            self.stats.lists += 1
            self.stats.list_pages += pages
            self.stats.list_bytes += size
        cost = pages + size / BYTES_PER_CALL
        costs.cost = cost if costs.cost is None else (1 - EWMA) * costs.cost + EWMA * cost
        if complete:
            costs.total_items = items
        if costs.unusable:
            return
        answered = 0
        runs = self._runs_seen[group]
        for key in keys:
            ask = asks[key]
            found = _from_states(ask, states.get(ask.target.id), self._since.get(key), runs)  # type: ignore[union-attr]
            if found is not _UNANSWERED:
                results[key] = found
                answered += 1
            elif ask.what == "since":
                entry = states.get(ask.target.id)  # type: ignore[union-attr]
                if entry is not None and entry[1] is not None:
                    self._since[key] = (entry, None)  # the answer to come is valid for this state
        runs.turn()
        self.stats.answered_by_list += answered
        fraction = answered / len(keys)
        costs.saved_fraction = (1 - EWMA) * costs.saved_fraction + EWMA * fraction

    def _next_page_pays(self, costs: _ListCost, missing: int, page: TargetStates, listed: int) -> bool:
        """Whether the next page likely answers more of the missing waits than it costs."""
        if costs.total_items is None:  # the first traversal: the missing waits are on the pages to come
            return missing > 1.0 + page.size / BYTES_PER_CALL
        left = max(costs.total_items - listed, page.items, 1)
        hits = missing * min(1.0, page.items / left)
        return hits > 1.0 + page.size / BYTES_PER_CALL

    async def _lookups(
        self, client: Any, pending: list[tuple[AskKey, _Ask]], results: dict[AskKey, Any]
    ) -> None:
        """One call per question left, as many at once as needed to finish within the budget."""
        if not pending:
            return
        throttled = self.meter.throttled
        needed = math.ceil(len(pending) * self.latency / max(self.interval * LOOKUP_BUDGET, 1e-3))
        workers = max(1, min(len(pending), max(MIN_CONCURRENCY, min(needed, self.cap))))
        self.stats.concurrency = workers
        queue = iter(pending)

        async def worker() -> None:
            for key, ask in queue:
                try:
                    outcome = await self._timed(client, ask)
                except Exception as exc:
                    outcome = exc
                else:
                    if ask.what == "since" and key in self._since:
                        self._since[key] = (self._since[key][0], outcome)
                results[key] = outcome
                _settle(ask, outcome)  # delivered as soon as it is known: news waits for no other lookup

        if workers == 1:
            await worker()
        else:
            await asyncio.gather(*(worker() for _ in range(workers)))
        if self.meter.throttled > throttled:
            self.cap = max(MIN_CONCURRENCY, self.cap // 2)  # the server is struggling: ask less at once
        else:
            self.cap = min(MAX_CONCURRENCY, self.cap + 4)

    async def _timed(self, client: Any, ask: _Ask) -> Any:
        """Make one question's call, measuring its answer time."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.stats.lookups += 1
        try:
            return await _call(client, ask)
        finally:
            elapsed = loop.time() - started
            self.latency = (1 - EWMA) * self.latency + EWMA * elapsed

    # ------------------------------------------------------------------ compatibility
    @property
    def calls(self) -> int:
        """API requests made so far."""
        return self.meter.requests

    @property
    def ticks(self) -> int:
        """Ticks answered so far."""
        return self.stats.ticks


_UNANSWERED: Any = object()


class _RunsSeen:
    """The runs a list answered last time, by id and status: a wait asks about the same run at every tick,
    mostly in the same state, and building thousands of identical answers each tick costs. Only what the
    last list answered is kept."""

    def __init__(self) -> None:
        self.last: dict[tuple[str | None, str], Run] = {}
        self.now: dict[tuple[str | None, str], Run] = {}

    def get(self, run_id: str | None, status: str) -> Run:
        key = (run_id, status)
        run = self.now.get(key) or self.last.get(key) or Run(id=run_id, status=status)
        self.now[key] = run
        return run

    def turn(self) -> None:
        """A list was read: what it answered is what is kept."""
        self.last, self.now = self.now, {}


def _from_states(ask: _Ask, entry: tuple[str, str | None] | None, cached: Any, runs: _RunsSeen) -> Any:
    """What the list entry of the question's target answers (``_UNANSWERED``: ask the server)."""
    if entry is None:
        return _UNANSWERED
    status, last = entry
    active = normalise_state(status) in (RunState.QUEUED, RunState.RUNNING)
    if ask.what == "run":
        if active and last in (None, ask.arg):
            return runs.get(ask.arg, status)
        return _UNANSWERED
    if ask.what == "current":
        return runs.get(last, status) if active else None
    if ask.what == "look":
        return runs.get(last, status) if active and last else _UNANSWERED
    if ask.what == "since" and cached is not None and last is not None:
        state, runs = cached
        if state == entry and runs is not None and not isinstance(runs, BaseException):
            return runs  # same state and last run as when these runs were read: the same answer
    return _UNANSWERED


def _call(client: Any, ask: _Ask) -> Awaitable[Any]:
    """The client call that answers a question (its awaitable: no coroutine level of its own)."""
    if ask.what == "run":
        return client.get_run(ask.target, ask.arg)  # type: ignore[no-any-return]
    if ask.what == "current":
        return client.current_run(ask.target)  # type: ignore[no-any-return]
    if ask.what == "since":
        return client.runs_since(ask.target, ask.arg)  # type: ignore[no-any-return]
    if ask.what == "look":
        return client.look(ask.target, None, ask.arg)  # type: ignore[no-any-return]
    name, args = ask.arg
    return getattr(client, name)(*args)  # type: ignore[no-any-return]


def _unsupported(error: ServiceError) -> bool:
    unsupported = CDataSyncUnsupportedError | CDataSyncNotFoundError | CDataSyncMethodNotAllowedError
    return isinstance(error, unsupported)


def _settle(ask: _Ask, outcome: Any) -> None:
    for waiter in ask.waiters():
        if waiter.done():
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


def pollers_of(loop: asyncio.AbstractEventLoop) -> dict[Any, RunPoller]:
    """The pollers of an event loop, by whatever key their users choose (created on first use)."""
    return _POLLERS.setdefault(loop, {})


def shared(key: Any, make: Callable[[], RunPoller]) -> RunPoller:
    """The running loop's poller for ``key`` (``make`` creates it on first use)."""
    pollers = pollers_of(asyncio.get_running_loop())
    poller = pollers.get(key)
    if poller is None:
        poller = pollers[key] = make()
    return poller


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, RunPoller]]
_POLLERS = weakref.WeakKeyDictionary()

__all__ = [
    "ClientFactory",
    "Meter",
    "MeteredTransport",
    "PollerStats",
    "RunPoller",
    "TransportWrap",
    "shared",
]
