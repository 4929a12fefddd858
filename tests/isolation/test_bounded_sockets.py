"""The grader's kernel clients queue a bounded amount of what a kernel sends (autograde/isolation/bounded_sockets.py)."""

import nbformat
import pytest
import zmq

from autograde.grading.guarded_execute import GuardedExecute
from autograde.isolation.bounded_sockets import MB, QUEUED_MESSAGES, BoundedKernelClient, BoundedKernelManager


def socket_options(client):
    """channel -> (largest message read, messages held unread) of a started client's sockets."""
    return {
        name: (socket.getsockopt(zmq.MAXMSGSIZE), socket.getsockopt(zmq.RCVHWM))
        for name in ("shell", "iopub", "stdin", "control")
        for socket in [getattr(client, f"{name}_channel").socket]
    }


def test_the_output_channel_reads_less_than_the_others_and_every_socket_holds_few_messages():
    manager = BoundedKernelManager(max_output_message_bytes=1_000, max_message_bytes=5_000, queued_messages=7)
    client = manager.client()  # no kernel needed: ZeroMQ connects when a kernel listens
    assert isinstance(client, BoundedKernelClient)
    client.start_channels(hb=False)
    try:
        options = socket_options(client)
    finally:
        client.stop_channels()
    assert options == {"shell": (5_000, 7), "iopub": (1_000, 7), "stdin": (5_000, 7), "control": (5_000, 7)}
    assert client.context.closed, "the client's context is destroyed with its channels"


def test_the_grader_sizes_its_sockets_from_its_limits():
    executor = GuardedExecute(memory_limit_mb=1_000, max_observation_chars=2_000, kernel_name="python3")
    executor.nb = nbformat.v4.new_notebook()
    manager = executor.create_kernel_manager()
    assert isinstance(manager, BoundedKernelManager)
    assert manager.max_output_message_bytes == 1_000 * MB
    assert manager.max_message_bytes == 4 * 2_000 + MB
    assert manager.queued_messages == QUEUED_MESSAGES


class SmallOutputMessages(GuardedExecute):
    """The grader, reading no output message over 1 MB (its own limit is the kernel's memory limit)."""

    def create_kernel_manager(self):
        manager = super().create_kernel_manager()
        manager.max_output_message_bytes = MB
        return manager


@pytest.mark.slow  # starts a kernel
def test_a_message_over_the_limit_is_never_read_and_the_notebook_goes_on(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("print('x' * 3_000_000, flush=True)"),  # one message of 3 MB
        nbformat.v4.new_code_cell("print('after it')"),
    ]
    executor = SmallOutputMessages(sandbox=False, fork_kernels=False, timeout=60, kernel_name="python3")
    executed, _ = executor.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    printed = "".join(o.get("text", "") for cell in executed.cells for o in cell.outputs)
    assert "x" * 1_000 not in printed
    # The output channel has ended (ZeroMQ does not reconnect after a message over its size): what follows is lost,
    # each cell says so, and every cell ran.
    assert executed.metadata.grading["limits_hit"] == ["output"]
    assert [cell.outputs[-1].ename for cell in executed.cells] == ["OutputTimeout", "OutputTimeout"]
