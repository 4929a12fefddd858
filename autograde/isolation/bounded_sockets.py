"""Kernel clients whose sockets hold a bounded amount of what a kernel sends.

ZeroMQ queues the messages a socket receives in the receiving process until that process reads them: by default
up to 1,000 messages a socket, each of any size. While a probe runs, the grader waits for the kernel's reply and
does not read the kernel's output channel (iopub), so a thread left running by student code could queue output there,
in the grading process, outside the kernel's memory limit and the output caps. The grader's sockets here hold at
most ``queued_messages`` messages each: past that, ZeroMQ stops reading, and the kernel's own queue fills (in the
kernel's memory, under its limit) and drops what follows. A socket also refuses a message larger than its channel
can use, dropping the connection instead of reading it: on the output channel, one larger than the kernel's memory
limit (``max_output_message_bytes``; smaller ones are read and cut by the output caps, which say so); on the others,
a reply larger than the observations a probe may return (``max_message_bytes``). ZeroMQ does not reconnect after
such a message, so that channel ends for the rest of the notebook.

:class:`autograde.grading.guarded_execute.GuardedExecute` makes its kernel managers of
:class:`BoundedKernelManager`, sized from its limits.
"""

from __future__ import annotations

from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import HasTraits, Integer, Type

QUEUED_MESSAGES = 32  # a normal cell's output is read as it comes; only a flood while a probe runs fills this
MB = 1 << 20


class SocketBounds(HasTraits):
    """The sizes that bound a kernel client's sockets (see the module's docstring).

    Args:
        max_output_message_bytes: the largest message read on the output channel (iopub).
        max_message_bytes: the largest message read on every other channel (shell, control, stdin, heartbeat).
        queued_messages: the messages each socket may hold unread.
    """

    max_output_message_bytes = Integer(16 * MB, help="largest message read on the output channel (iopub)").tag(
        config=True
    )
    max_message_bytes = Integer(64 * MB, help="largest message read on the other channels").tag(config=True)
    queued_messages = Integer(QUEUED_MESSAGES, help="messages each socket may hold unread").tag(config=True)

    def socket_bounds(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SocketBounds.class_trait_names()}


class BoundedKernelClient(AsyncKernelClient, SocketBounds):
    """jupyter_client's asynchronous kernel client, its sockets bounded by :class:`SocketBounds`' sizes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # A context's socket options are the defaults of the sockets it makes after they are set; this client's
        # context is its own (jupyter_client makes one for each client, and destroys it with the channels).
        self.context.setsockopt(zmq.RCVHWM, self.queued_messages)
        self.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)

    def connect_iopub(self, identity: bytes | None = None) -> zmq.Socket:
        # ZeroMQ reads a socket's options when it connects: the output channel's limit is the default while it does.
        self.context.setsockopt(zmq.MAXMSGSIZE, self.max_output_message_bytes)
        try:
            return super().connect_iopub(identity)
        finally:
            self.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)


class BoundedKernelManager(AsyncKernelManager, SocketBounds):
    """jupyter_client's asynchronous kernel manager, whose clients are :class:`BoundedKernelClient` with its sizes."""

    # AsyncKernelManager gives its clients' class as this trait's default (client_class then sets it, when configured).
    client_factory = Type(klass=BoundedKernelClient, config=True)

    def client(self, **kwargs: Any) -> BoundedKernelClient:
        return super().client(**{**self.socket_bounds(), **kwargs})
