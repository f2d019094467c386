"""A small JSON-over-HTTP client for OpenAI-compatible servers: timeouts, retries with backoff, one-line errors."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request

from ragpoison.rag.errors import InputError

# Statuses worth another try: rate limiting and a server that is overloaded, restarting or still loading.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


def _detail(body: bytes) -> str:
    """The server's error message from an error body, on one line."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        error = data.get("error", data)
        text = str(error.get("message") or error.get("detail") or error) if isinstance(error, dict) else str(error)
    text = " ".join(text.split())
    return text[:300] or "no message"


class OpenAIClient:
    """GET and POST JSON to an OpenAI-compatible base URL, retrying what a retry can fix."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout_s: float = 60.0, retries: int = 3,
                 backoff_s: float = 0.5, field: str = "generator.params.base_url") -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.field = field

    def get(self, path: str, *, retries: int | None = None, timeout_s: float | None = None) -> dict:
        """GET ``base_url + path`` as JSON."""
        return self._call(f"{self.base_url}{path}", None, retries, timeout_s)

    def post(self, path: str, body: dict) -> dict:
        """POST a JSON body to ``base_url + path`` and return the JSON answer."""
        return self._call(f"{self.base_url}{path}", body, None, None)

    def _request(self, url: str, body: dict | None) -> urllib.request.Request:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        return urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")

    def _wait(self, attempt: int, retry_after: str | None = None) -> None:
        delay = self.backoff_s * 2 ** attempt
        if retry_after:
            try:
                delay = min(max(delay, float(retry_after)), MAX_RETRY_AFTER_S)
            except ValueError:
                pass
        time.sleep(delay)

    def _call(self, url: str, body: dict | None, retries: int | None, timeout_s: float | None) -> dict:
        retries = self.retries if retries is None else retries
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        tries = retries + 1
        count = f"{tries} {'try' if tries == 1 else 'tries'}"
        for attempt in range(tries):
            retry_after = None
            try:
                with urllib.request.urlopen(self._request(url, body), timeout=timeout_s) as response:
                    return self._json(url, response.read())
            except urllib.error.HTTPError as exc:
                problem = f"{url} answered HTTP {exc.code}: {_detail(exc.read())}"
                if exc.code not in RETRY_STATUS:
                    raise InputError(problem, field=self.field) from None
                retry_after = exc.headers.get("Retry-After")
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, (TimeoutError, socket.timeout)):
                    problem = (f"no answer from {url} within {timeout_s:g} s ({count}); raise the timeout or check "
                               "the server")
                else:
                    why = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
                    problem = (f"cannot reach the server at {self.base_url} ({why.lower()}, {count}); start one "
                               f"with `ragpoison serve MODEL_DIR` or set {self.field}")
            if attempt == tries - 1:
                raise InputError(problem, field=self.field)
            self._wait(attempt, retry_after)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _json(self, url: str, raw: bytes) -> dict:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{url} did not answer with JSON", field=self.field) from None
        if not isinstance(data, dict):
            raise InputError(f"{url} answered with a JSON {type(data).__name__}, not an object", field=self.field)
        return data
