"""The HTTP core that the forge clients share (GitHub's REST API, GitLab's REST API v4).

One request policy for both: bounded retries with exponential backoff on 5xx, 429 and
rate-limited 403s, honouring ``retry-after`` (seconds or an HTTP date) and
``x-ratelimit-reset``/``ratelimit-reset`` (epoch seconds) up to ``max_wait``; a header that
is not a finite number or a date is ignored. A POST whose answer was lost (5xx, dropped
connection) may have taken effect, so the caller may look before retrying
(``before_retry``). Pagination follows ``Link: <...>; rel="next"`` (and whatever
:meth:`RestClient._next_url` adds), only to the API's own origin. 4xx answers raise
:class:`~mlgate.errors.RemoteError` with one line naming the request and the fix
(:meth:`RestClient._explain`); the token never appears in a message.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from mlgate.errors import ConfigError, RemoteError

_PER_PAGE = 100
_MAX_PAGES = 100  # 10,000 items: far beyond any real PR, and a guard against Link loops
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class HttpError(RemoteError):
    """A 4xx answer that is not retried; ``status`` lets callers tell 403 from 401."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Retry(Exception):
    """A failure worth retrying; ``wait`` is the least the server asked for (None: backoff)."""

    def __init__(self, reason: str, wait: float | None, *, ambiguous: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        # True when the request may have taken effect (5xx, lost connection): a retried
        # POST could then create a duplicate, so the caller gets a chance to look first.
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class Reply:
    """A parsed 2xx answer and the URL of the next page, if any."""

    data: Any
    next_url: str | None


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def check_api_url(api_url: str, variable: str, example: str) -> str:
    """``api_url`` without a trailing slash; https, or http on the loopback only."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{variable}: expected an http(s) URL such as {example}, got {api_url!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # The token travels in a header: never send it in clear text over a network.
        raise ConfigError(
            f"{variable}: {api_url} is plain http; use https (http only for 127.0.0.1)"
        )
    return api_url.rstrip("/")


def finite(text: str) -> float | None:
    """A header value as a finite number of seconds, None for ``nan``, ``inf`` or words."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class RestClient:
    """Retries, pagination, errors and redaction; subclasses name the API and its headers."""

    #: How messages name the API ("GitHub API") and the variable holding its URL.
    API_NAME = "REST API"
    URL_VARIABLE = "API_URL"

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        client: httpx.Client | None = None,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._token = token
        self.api_url = api_url
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        )
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- hooks -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _explain(self, status: int, what: str, message: str) -> str:
        said = f" ({message})" if message else ""
        return f"{self.API_NAME}: {what}: {status}{said}"

    def _next_url(self, response: httpx.Response, url: str) -> str | None:
        """The next page's URL: the ``Link`` header's ``rel="next"``."""
        return response.links.get("next", {}).get("url")

    def _is_rate_limited(self, status: int, wait: float | None, message: str) -> bool:
        return status == 429 or (
            status == 403 and (wait is not None or "rate limit" in message.lower())
        )

    # -- HTTP --------------------------------------------------------------------------------
    def _paginate(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        query = {"per_page": str(_PER_PAGE), "page": "1", **(params or {})}
        reply = self._request("GET", path, params=query)
        for page in range(_MAX_PAGES):
            if not isinstance(reply.data, list):
                raise RemoteError(f"{self.API_NAME}: GET {path} did not return a list")
            for item in reply.data:
                if isinstance(item, dict):
                    yield item
            if reply.next_url is None:
                return
            if page + 1 == _MAX_PAGES:
                raise RemoteError(f"{self.API_NAME}: GET {path} has more than {_MAX_PAGES} pages")
            reply = self._request("GET", reply.next_url)

    def _url(self, path_or_url: str) -> str:
        if "://" not in path_or_url:
            return self.api_url + path_or_url
        # A pagination link: follow it only to the API's own origin (the token goes along).
        here, there = urlsplit(self.api_url), urlsplit(path_or_url)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            raise RemoteError(
                f"{self.API_NAME}: refusing to follow a pagination link to {there.scheme}://"
                f"{there.netloc} (not {here.netloc})"
            )
        return path_or_url

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        before_retry: Callable[[], Any] | None = None,
    ) -> Reply:
        url = self._url(path)
        what = f"{method} {urlsplit(url).path}"
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(method, url, what, json=json, params=params)
            except _Retry as retry:
                if attempt == self.max_attempts:
                    raise RemoteError(
                        f"{self.API_NAME}: {what} failed after {attempt} attempts "
                        f"({retry.reason}); try again later"
                    ) from None
                delay = self.backoff * 2 ** (attempt - 1)
                if retry.wait is not None:
                    if retry.wait > self.max_wait:
                        forge = self.API_NAME.split()[0]
                        raise RemoteError(
                            f"{self.API_NAME}: {what}: {retry.reason}; {forge} asks to wait "
                            f"{math.ceil(retry.wait)} s (more than {self.max_wait:g} s); try later"
                        ) from None
                    delay = max(retry.wait, 0.0)
                self._sleep(min(delay, self.max_wait))
                if retry.ambiguous and before_retry is not None:
                    found = before_retry()
                    if found is not None:
                        return Reply(found, None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, method: str, url: str, what: str, *, json: Any, params: Mapping[str, str] | None
    ) -> Reply:
        try:
            response = self._client.request(
                method, url, json=json, params=params, headers=self._headers()
            )
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out: {type(exc).__name__}", None, ambiguous=True) from None
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.ConnectError):
                raise _Retry(
                    f"cannot connect to {self.api_url}: {self._redact(str(exc))}",
                    None,
                    ambiguous=False,
                ) from None
            raise _Retry(f"connection failed: {type(exc).__name__}", None, ambiguous=True) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json() if response.content else None
            except ValueError:  # an HTML page from a proxy, a wrong API URL
                kind = response.headers.get("content-type") or "no content type"
                raise RemoteError(
                    f"{self.API_NAME}: {what}: {status} answer is not JSON ({kind}); check "
                    f"{self.URL_VARIABLE} ({self.api_url})"
                ) from None
            return Reply(data, self._next_url(response, str(response.request.url)))
        message = self._server_message(response)
        wait = self._rate_limit_wait(response)
        if self._is_rate_limited(status, wait, message):
            # Rate limited: the request was not processed, so any method may be retried.
            # GitHub asks for at least a minute when a secondary limit gives no header.
            raise _Retry(
                f"{status} rate limited", wait if wait is not None else 60.0, ambiguous=False
            )
        if status >= 500:
            raise _Retry(f"{status} {response.reason_phrase}", wait, ambiguous=True)
        raise HttpError(self._explain(status, what, message), status)

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        headers = response.headers
        retry_after = headers.get("retry-after")
        if retry_after:
            seconds = finite(retry_after)
            if seconds is not None:
                return seconds
            try:  # the HTTP-date form of retry-after
                delta = email.utils.parsedate_to_datetime(retry_after).timestamp() - self._clock()
                return delta if math.isfinite(delta) else None
            except (TypeError, ValueError, IndexError, OverflowError):
                pass  # neither: fall through to the reset header, else the default backoff
        for prefix in ("x-ratelimit-", "ratelimit-"):  # GitHub's names, then GitLab's
            if headers.get(prefix + "remaining") == "0" and headers.get(prefix + "reset"):
                reset = finite(headers[prefix + "reset"])
                return None if reset is None else reset - self._clock()
        return None

    def _server_message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return self._redact(one_line(response.text, 200))
        if not isinstance(data, dict):
            return ""
        parts = [str(data.get("message", ""))]
        for err in data.get("errors") or []:
            if isinstance(err, dict) and err.get("message"):
                parts.append(str(err["message"]))
            elif isinstance(err, dict) and err.get("code"):
                parts.append(f"{err.get('field', '?')} {err['code']}")
        return self._redact(one_line(": ".join(p for p in parts if p), 300))

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text
