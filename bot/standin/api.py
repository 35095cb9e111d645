"""The stand-in's REST surface: an ASGI app that validates each request, injects faults, and dispatches.

Routing uses GitHub's own description: a request is matched to an operation of the REST subset, its
path, query and body are validated, and the handler registered for that `operationId` runs under the
stand-in's lock. Unknown routes and invalid requests get GitHub's 404/422 answers and are recorded as
violations. The handlers live in bot/standin/rest/, one module per GitHub resource.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio

from bot.standin.conditional import CACHE_CONTROL, VARY, etag_for, http_date, is_conditional, is_current
from bot.standin.domain.state import API_PREFIX, GIT_HOOK_PATH, RequestLog, StandInError, Violation
from bot.standin.faults import Fault
from bot.standin.gitstore import GitError
from bot.standin.model import Token
from bot.standin.oauth import WebReply, handle_web
from bot.standin.rest import HANDLERS
from bot.standin.rest.auth import authenticate, check_token_scope
from bot.standin.rest.call import DOCS, Call, Reply, error

if TYPE_CHECKING:
    from bot.standin.server import StandIn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

__all__ = ["GIT_HOOK_PATH", "HANDLERS", "build_app", "handle"]


def _git_pushed(standin: StandIn, body: bytes) -> None:
    try:
        event = json.loads(body)
        full_name = str(event["repository"])
        lines = [str(line) for line in event["updates"]]
    except (ValueError, KeyError, TypeError):
        return
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("refs/heads/"):
            branch = parts[2].removeprefix("refs/heads/")
            standin.notify_push(
                full_name, branch, pusher=str(event.get("pusher") or standin.default_app.bot_login)
            )


def build_app(standin: StandIn) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application serving `standin`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        method = scope["method"]
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
        if path == GIT_HOOK_PATH and method == "POST":
            # A `git push` straight into a bare repository (what a CI job or the bot's executor does) is
            # announced by the repository's post-receive hook, as GitHub announces pushes it receives.
            await anyio.to_thread.run_sync(lambda: _git_pushed(standin, body))
            await _send(send, Reply(204, None))
            return
        if not path.startswith(API_PREFIX):
            web = handle_web(standin, method, path, scope.get("query_string", b"").decode(), body)
            if web is None:
                await _send(send, error(404, "Not Found"))
                return
            await _send_web(send, web)
            return
        relative = path[len(API_PREFIX) :] or "/"
        fault = standin.faults.pick(method, relative)
        if standin.faults.delay_seconds:
            await asyncio.sleep(standin.faults.delay_seconds)
        if fault is not None and fault.kind != "lost_response":
            standin.requests.append(RequestLog(method, relative, 0, None, f"fault:{fault.kind}"))
            if fault.kind == "drop":
                _abort(send)
                return
            await _send(send, _fault_reply(fault))
            return
        url = f"{standin.html_url}{path}"
        reply = await anyio.to_thread.run_sync(
            lambda: handle(standin, method, relative, query, headers, body, url)
        )
        if fault is not None:  # lost_response: the write happened, the answer never arrives
            _abort(send)
            return
        await _send(send, reply)

    return app


def _abort(send: Send) -> None:
    """Drop the TCP connection without an answer (uvicorn keeps the transport on the bound `send`)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("stand-in fault: dropped connection")
    transport.abort()


def _fault_reply(fault: Fault) -> Reply:
    now = int(time.time())
    if fault.kind in ("500", "502"):
        status = int(fault.kind)
        message = "Server Error" if status == 500 else "Bad Gateway"
        return Reply(status, {"message": message})
    if fault.kind == "429":
        return Reply(
            429,
            {
                "message": "API rate limit exceeded for installation.",
                "documentation_url": DOCS,
                "status": "429",
            },
            {
                "Retry-After": str(fault.retry_after),
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Used": "5000",
                "X-RateLimit-Reset": str(now + fault.retry_after),
                "X-RateLimit-Resource": "core",
            },
        )
    return Reply(
        403,
        {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID.",
            "documentation_url": DOCS,
            "status": "403",
        },
        {"Retry-After": str(fault.retry_after)},
    )


async def _send_web(send: Send, reply: WebReply) -> None:
    """A page or answer of GitHub's web host (the OAuth web flow: bot.standin.oauth)."""
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    if reply.location:
        headers.append((b"location", reply.location.encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _send(send: Send, reply: Reply) -> None:
    data = reply.payload()
    headers = {
        "content-type": "application/json; charset=utf-8",
        "content-length": str(len(data)),
        "x-github-media-type": "github.v3; format=json",
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
    }
    if reply.status == 304:  # Not Modified has no body, so no body headers (RFC 9110 15.4.5)
        del headers["content-type"], headers["content-length"]
        data = b""
    headers.update({k.lower(): v for k, v in reply.headers.items()})
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def handle(
    standin: StandIn,
    method: str,
    path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
    url: str,
) -> Reply:
    """Validate, authenticate and dispatch one REST request (runs in a worker thread)."""
    match = standin.spec.match(method, path)
    if match is None or match.operation.operation_id not in HANDLERS:
        reason = (
            "no such route in GitHub's REST description"
            if match is None
            else "route not served by the stand-in"
        )
        standin.violations.append(Violation(method, path, reason))
        return _answered(standin, error(404, "Not Found"), RequestLog(method, path, 404, None, None), headers)
    operation = match.operation.operation_id
    checked = standin.spec.validate(match, query, body)
    if checked.problems:
        reasons = "; ".join(f"{p.field}: {p.message}" for p in checked.problems)
        standin.violations.append(Violation(method, path, reasons))
        bad_json = any(p.message == "Problems parsing JSON" for p in checked.problems)
        status = (
            400 if bad_json else 404 if any(p.field in match.path_params for p in checked.problems) else 422
        )
        message = (
            "Problems parsing JSON"
            if bad_json
            else "Invalid request.\n\n" + "\n".join(p.message for p in checked.problems)
        )
        refused = error(status, message, [p.as_error(operation.split("/")[0]) for p in checked.problems])
        return _answered(standin, refused, RequestLog(method, path, status, None, operation), headers)
    token: Token | None = None
    app_id: int | None = None
    try:
        token, app_id = authenticate(standin, operation, headers.get("authorization", ""))
        call = Call(
            standin,
            method,
            path,
            operation,
            checked.path_params,
            checked.query,
            checked.body,
            token,
            app_id,
            url,
        )
        with standin.lock:
            check_token_scope(call)
            reply = HANDLERS[operation](call)
        actor = token.login if token else None
    except StandInError as exc:
        reply = error(exc.status, exc.message, exc.errors)
        actor = None
    except GitError as exc:
        reply = error(422, f"git: {exc.stderr.strip()[:200]}")
        actor = None
    if standin.validate_responses and reply.status < 300:
        try:
            problems = standin.spec.response_errors(method, path, reply.status, reply.body)
        except Exception as exc:  # a broken check must be reported, not turn the answer into a 500
            problems = [f"response check failed: {type(exc).__name__}: {str(exc)[:200]}"]
        for problem in problems[:5]:
            standin.response_problems.append(Violation(method, path, f"response {reply.status}: {problem}"))
    etag = None
    if method == "GET" and reply.status == 200:
        reply, etag = _validated(reply, headers)
    authorized = token is not None or app_id is not None
    entry = RequestLog(
        method, path, reply.status, actor, operation, is_conditional(headers), authorized, etag
    )
    return _answered(standin, reply, entry, headers, _rate_limit_key(token, app_id))


def _answered(
    standin: StandIn, reply: Reply, entry: RequestLog, headers: dict[str, str], key: str | None = None
) -> Reply:
    """Log the request and spend its caller's rate limit (a request refused before authentication is charged
    to the token it names, as GitHub charges it)."""
    if key is None:
        token = standin.token_for(headers.get("authorization", "").partition(" ")[2].strip())
        key = _rate_limit_key(token, None)
    reply.headers.update(standin.rate_limits.spend(key, counted=entry.counts_toward_rate_limit))
    standin.requests.append(entry)
    return reply


def _validated(reply: Reply, headers: dict[str, str]) -> tuple[Reply, str]:
    """The 200 answer with its validators, or the 304 that replaces it when the client's copy is current."""
    etag = etag_for(reply.payload(), reply.headers.get("Link", ""))
    validators = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": VARY}
    if reply.last_modified is not None:
        validators["Last-Modified"] = http_date(reply.last_modified)
    if is_current(headers, etag, reply.last_modified):
        return Reply(304, None, validators), etag
    reply.headers.update(validators)
    return reply, etag


def _rate_limit_key(token: Token | None, app_id: int | None) -> str:
    if token is not None:
        if token.installation_id is not None:
            return f"installation:{token.installation_id}"
        return f"user:{token.login}"
    return f"app:{app_id}" if app_id is not None else "anonymous"
