"""The server token: where a request carries it (bearer header or login cookie) and the one
constant-time comparison every check uses."""

from __future__ import annotations

import hmac
from typing import Any

__all__ = ["TOKEN_COOKIE", "OPEN_PATHS", "token_matches", "request_token_ok", "set_token_cookie"]

#: Cookie set by the login form when the server has a token.
TOKEN_COOKIE = "cislearn_token"
#: Paths reachable without the token: the login form and its stylesheet (no data in either).
OPEN_PATHS = ("/login", "/static/style.css")


def token_matches(given: str, token: str) -> bool:
    """Whether ``given`` is the server's ``token`` (constant time; an empty token never is)."""
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def request_token_ok(request: Any, token: str) -> bool:
    """Whether ``request`` carries ``token``: ``Authorization: Bearer <token>`` or the cookie."""
    given = ""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
    elif request.cookies.get(TOKEN_COOKIE):
        given = request.cookies[TOKEN_COOKIE]
    return token_matches(given, token)


def set_token_cookie(response: Any, token: str) -> None:
    """Remember a correct login in the browser (HTTP-only, same-site strict)."""
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
