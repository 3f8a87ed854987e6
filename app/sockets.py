"""Reading a GraphQL websocket's messages: none larger than an initialisation needs before its token is checked."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived

MAX_UNACKNOWLEDGED_MESSAGE_CHARS = 16 * 1024
"""The largest message a socket may send before its connection_init is acknowledged: a token and a few connection
parameters take a few hundred characters."""
MESSAGE_TOO_BIG = 1009
"""RFC 6455's close code for a message too big to process."""
TOKEN_FIRST = "send connection_init with a token before larger messages"


class SocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's socket reader, refusing a large message before it is parsed while no token has been checked.

    An HTTP request's body is not read before its token is checked; a socket's messages were all parsed, and one
    not yet acknowledged may still send pings (answered) as long as it stays open: anyone reaching the API could
    send 14 MB pings, each parsed on the event loop for 0.6 s while every tenant's requests waited. Until
    SocketHandler acknowledges connection_init, a message past MAX_UNACKNOWLEDGED_MESSAGE_CHARS closes the socket
    1009 unread; once acknowledged, the frame limit and GRAPHQL_MAX_INPUT_VALUES bound what is sent, as before.
    """

    acknowledged = False

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if not self.acknowledged and len(text) > MAX_UNACKNOWLEDGED_MESSAGE_CHARS:
                    await self.ws.close(code=MESSAGE_TOO_BIG, reason=TOKEN_FIRST)
                    return
                try:
                    yield self.view.decode_json(text)
                except json.JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:  # a binary frame: strawberry's own reading
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass
