"""The two drivers (sync and async) and the ``operation`` descriptor that exposes each API operation on both.

An operation is written once, as a generator method decorated with :func:`operation`. Accessed on a
synchronous client it is a plain method returning the result; on an asynchronous client it returns a
coroutine; inside another operation, ``yield from self.other_op.steps(...)`` composes them.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx

from airflow_provider_cdata_sync.client.transport import (
    ApiRequest,
    Call,
    CDataRequestBuilder,
    HttpSettings,
    RequestBuilder,
    RetryPolicy,
    Sleep,
    Step,
    make_scrubber,
    with_retries,
)

P = ParamSpec("P")
T = TypeVar("T")

TRUNCATED_HEADER = "x-cdata-provider-truncated-bytes"


class TailBuffer:
    """Keeps the last ``limit`` bytes of a stream, and counts what it dropped (bounded memory)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        """Append a chunk, dropping the oldest bytes beyond the limit."""
        self.chunks.append(chunk)
        self.size += len(chunk)
        while self.size > self.limit and self.chunks:
            excess = self.size - self.limit
            head = self.chunks[0]
            if len(head) <= excess:
                self.chunks.popleft()
                self.size -= len(head)
                self.dropped += len(head)
            else:
                self.chunks[0] = head[excess:]
                self.size -= excess
                self.dropped += excess

    def response(self, streamed: httpx.Response) -> httpx.Response:
        """A complete response holding only the kept tail (and a header saying how much was cut)."""
        headers = [
            (k, v)
            for k, v in streamed.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        headers.append((TRUNCATED_HEADER, str(self.dropped)))
        return httpx.Response(
            streamed.status_code, headers=headers, content=b"".join(self.chunks), request=streamed.request
        )


class _Driver:
    """What both drivers share: configuration, request building, retry policy, secret scrubbing."""

    config: HttpSettings
    #: How requests are addressed and authenticated; other APIs (AI Squared) plug in their own.
    builder_class: type[RequestBuilder] = CDataRequestBuilder

    def _setup(self, config: HttpSettings) -> None:
        self.config = config
        self._builder = self.builder_class(config)
        self._policy = RetryPolicy(config.retry)
        self.scrub = make_scrubber([config.token])

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "headers": self._builder.headers(),
            "auth": self._builder.auth(),
            "verify": self.config.verify,
            "timeout": httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout),
            "follow_redirects": False,
        }

    def _steps(self, call: Call[T], http: httpx.Client | httpx.AsyncClient) -> Any:
        def build(request: ApiRequest) -> httpx.Request:
            return self._builder.build(http, request)

        return with_retries(call, build, self._policy, self.scrub)


class SyncRunner(_Driver):
    """Runs operations with a keep-alive ``httpx.Client``."""

    def __init__(self, config: HttpSettings, transport: httpx.BaseTransport | None = None) -> None:
        self._setup(config)
        self._http = httpx.Client(transport=transport, **self._client_kwargs())

    def run(self, call: Call[T]) -> T:
        """Drive an operation to its result."""
        steps = self._steps(call, self._http)
        try:
            step: Step = next(steps)
            while True:
                step = steps.send(self._do(step))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _do(self, step: Step) -> httpx.Response | httpx.TransportError | None:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        try:
            if step.tail_bytes is None:
                return self._http.send(step.request)
            response = self._http.send(step.request, stream=True)
            try:
                buffer = TailBuffer(step.tail_bytes)
                for chunk in response.iter_bytes():
                    buffer.add(chunk)
                return buffer.response(response)
            finally:
                response.close()
        except httpx.TransportError as error:
            return error

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRunner(_Driver):
    """Runs operations with a keep-alive ``httpx.AsyncClient``; never blocks the event loop."""

    def __init__(self, config: HttpSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._setup(config)
        self._http = httpx.AsyncClient(transport=transport, **self._client_kwargs())

    async def arun(self, call: Call[T]) -> T:
        """Drive an operation to its result."""
        steps = self._steps(call, self._http)
        try:
            step: Step = next(steps)
            while True:
                step = steps.send(await self._do(step))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _do(self, step: Step) -> httpx.Response | httpx.TransportError | None:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        try:
            if step.tail_bytes is None:
                return await self._http.send(step.request)
            response = await self._http.send(step.request, stream=True)
            try:
                buffer = TailBuffer(step.tail_bytes)
                async for chunk in response.aiter_bytes():
                    buffer.add(chunk)
                return buffer.response(response)
            finally:
                await response.aclose()
        except httpx.TransportError as error:
            return error

    async def aclose(self) -> None:
        """Close the keep-alive connections."""
        await self._http.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class BoundOperation(Generic[P, T]):
    """An operation bound to an object; ``steps(...)`` gives its generator for composition."""

    def __init__(self, owner: Any, fn: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self._owner = owner
        self._fn = fn
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def steps(self, *args: P.args, **kwargs: P.kwargs) -> Call[T]:
        """The operation's request generator, for ``yield from`` inside another operation."""
        return self._fn(self._owner, *args, **kwargs)


class SyncOperation(BoundOperation[P, T]):
    """An operation on a synchronous client: calling it returns the result."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._owner.run(self.steps(*args, **kwargs))  # type: ignore[no-any-return]


class AsyncOperation(BoundOperation[P, T]):
    """An operation on an asynchronous client: calling it returns a coroutine."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
        return self._owner.arun(self.steps(*args, **kwargs))  # type: ignore[no-any-return]


class operation(Generic[P, T]):
    """Declare an API operation once; it is served by the sync and the async client alike."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self._fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> operation[P, T]: ...
    @overload
    def __get__(self, obj: SyncRunner, owner: type | None = None) -> SyncOperation[P, T]: ...
    @overload
    def __get__(self, obj: AsyncRunner, owner: type | None = None) -> AsyncOperation[P, T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> BoundOperation[P, T]: ...

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if isinstance(obj, SyncRunner):
            return SyncOperation(obj, self._fn)
        if isinstance(obj, AsyncRunner):
            return AsyncOperation(obj, self._fn)
        return BoundOperation(obj, self._fn)
