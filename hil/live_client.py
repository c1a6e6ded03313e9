"""A Foxglove WebSocket client that watches ``hipexo run --live`` as the Foxglove app would.

It connects with the protocol foxglove-sdk's server speaks (``foxglove.sdk.v1``; the server refuses the
older ``foxglove.websocket.v1``), reads the channels the server advertises, subscribes, and decodes the
binary message frames (opcode 1: subscription id u32, log time u64 ns, then the message body). Used by
the live view's tests and the loop benchmark; needs ``websockets`` (the ``dev`` extra).
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterable, Iterator

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

SUBPROTOCOL = "foxglove.sdk.v1"
MESSAGE_DATA = 0x01
MESSAGE_HEADER = struct.Struct("<BIQ")


class LiveClient:
    """``with LiveClient(port) as client:`` connected for the block."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 10.0):
        self._connection = connect(f"ws://{host}:{port}", subprotocols=[SUBPROTOCOL], open_timeout=timeout_s)
        self.subscriptions: dict[int, str] = {}

    def __enter__(self) -> LiveClient:
        self.ws = self._connection.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.__exit__(*exc)

    def advertised(self, topics: Iterable[str], timeout_s: float = 10.0) -> dict[str, dict]:
        """Topic → channel as advertised (possibly over several messages), once every one of ``topics`` is."""
        wanted, channels = set(topics), {}
        deadline = time.monotonic() + timeout_s
        while not wanted <= set(channels):
            message = json.loads(self.ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if message["op"] == "advertise":
                channels |= {c["topic"]: c for c in message["channels"]}
        return channels

    def subscribe(self, channels: dict[str, dict]) -> None:
        self.subscriptions = dict(enumerate(channels))
        requests = [{"id": k, "channelId": channels[topic]["id"]} for k, topic in self.subscriptions.items()]
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": requests}))

    def messages(self, timeout_s: float = 5.0) -> Iterator[tuple[str, int, bytes]]:
        """(topic, log time ns, body) as they arrive, until the server closes or ``timeout_s`` passes in silence."""
        while True:
            try:
                frame = self.ws.recv(timeout=timeout_s)
            except (ConnectionClosed, TimeoutError):
                return
            if isinstance(frame, bytes) and frame[0] == MESSAGE_DATA:
                _, subscription, log_time = MESSAGE_HEADER.unpack_from(frame)
                yield self.subscriptions[subscription], log_time, frame[MESSAGE_HEADER.size :]
