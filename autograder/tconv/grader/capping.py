"""Output capped while it arrives: what a notebook's kernel sends the grader is bounded, so that no
process of the grader holds more than a few tens of MB for one notebook, whatever it prints.

Two layers, both set through nbgrader's configuration (``task._config``):

- ``CappedKernelClient``: the grader's end of the kernel's sockets refuses any single message over
  MESSAGE_BYTES before reading it (ZeroMQ's ``MAXMSGSIZE``: the size is in the frame's header).
  ZeroMQ then closes that connection for good: the notebook's output stops arriving, nbgrader
  stops the notebook ("Timeout waiting for IOPub output") and it scores 0, the submission's fault
  (``task.why_not_graded``). A learner reaches this only by printing over 16 MB in one go (a
  print, or prints within 0.2 s: ipykernel sends what a cell wrote in that time as one message).
  Measured (autograder/tests/test_capping.py): a 100 MB print leaves the grader's process at
  about 100 MB peak resident, against about 390 MB without this cap.
- ``CappedExecute`` (nbgrader's Execute): of what does arrive, each cell keeps at most
  CELL_BYTES and the notebook NOTEBOOK_BYTES (text, images, HTML, errors, display updates,
  comms: every message that carries output). Past a cap an output is left out and the cell says
  so, once, in the stream it would have gone to (so a cell that wrote to stderr still shows
  stderr, which nbgrader scores 0); an error is kept, shortened, so a failing cell still fails.
"""

from __future__ import annotations

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

MiB = 1024 ** 2
MESSAGE_BYTES = 16 * MiB    # one message from the kernel, refused unread above this
CELL_BYTES = 2 * MiB        # outputs kept per cell
NOTEBOOK_BYTES = 8 * MiB    # outputs kept per notebook
ERROR_TEXT = 4000           # characters of an error's value and of its traceback kept past a cap

# message types that carry output (what nbclient stores or keeps state for)
OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error", "update_display_data"}


def content_size(content) -> int:
    """The characters (about the bytes) a message's content holds: its strings and keys, walked
    without recursion (the kernel chooses the nesting)."""
    size, stack = 0, [content]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, dict):
            size += sum(len(key) for key in value if isinstance(key, str))
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        else:
            size += 8
    return size


def _amount(size: int) -> str:
    return f"{size / MiB:.1f} MB" if size >= MiB / 10 else f"{size / 1024:.0f} KB"


def left_out_note(size: int, cap: int, where: str) -> str:
    return (f"\n[{_amount(size)} of output left out here: the grader keeps at most "
            f"{_amount(cap)} of output {where}]\n")


class CappedExecute(Execute):
    """nbgrader's Execute, keeping at most ``cell_bytes`` of output per cell and
    ``notebook_bytes`` per notebook, counted as the messages arrive."""
    cell_bytes = Integer(CELL_BYTES, help="output kept per cell").tag(config=True)
    notebook_bytes = Integer(NOTEBOOK_BYTES, help="output kept per notebook").tag(config=True)

    def reset_execution_trackers(self) -> None:
        super().reset_execution_trackers()
        self.received: dict[int, int] = {}   # per cell index: output bytes that arrived
        self.received_in_all = 0
        self.noted: set = set()               # (cell index, stream) already told of a cut

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind in OUTPUT_MESSAGES or kind.startswith("comm"):
            size = content_size(msg["content"])
            in_cell = self.received.get(cell_index, 0) + size
            in_all = self.received_in_all + size
            self.received[cell_index], self.received_in_all = in_cell, in_all
            if in_cell > self.cell_bytes or in_all > self.notebook_bytes:
                where = ("in one cell" if in_cell > self.cell_bytes
                         else "for a whole notebook")
                cap = self.cell_bytes if in_cell > self.cell_bytes else self.notebook_bytes
                return self._left_out(msg, cell, cell_index, size, cap, where)
        return super().process_message(msg, cell, cell_index)

    def _left_out(self, msg, cell, cell_index, size, cap, where):
        kind, content = msg["msg_type"], msg["content"]
        if "execution_count" in content:
            cell["execution_count"] = content["execution_count"]
        if kind == "error":  # kept, shortened: the cell must still fail
            traceback = "\n".join(map(str, content.get("traceback", [])))
            cell.outputs.append(new_output(
                "error", ename=str(content.get("ename", "Error"))[:200],
                evalue=str(content.get("evalue", ""))[:ERROR_TEXT],
                traceback=[traceback[-ERROR_TEXT:]]))
            return cell.outputs[-1]
        if kind not in ("stream", "display_data", "execute_result"):
            return None  # display updates and comms past the cap: dropped
        stream = content.get("name", "stdout") if kind == "stream" else "stdout"
        if (cell_index, stream) not in self.noted:
            self.noted.add((cell_index, stream))
            cell.outputs.append(new_output("stream", name=stream,
                                           text=left_out_note(size, cap, where)))
            return cell.outputs[-1]
        return None


class CappedKernelClient(AsyncKernelClient):
    """A kernel client whose sockets refuse, unread, any message over ``max_message_bytes``."""
    max_message_bytes = Integer(MESSAGE_BYTES).tag(config=True)

    def _create_connected_socket(self, channel, identity=None):
        # jupyter_client's own method, with MAXMSGSIZE set before the socket connects (ZeroMQ
        # reads a socket's options when it connects)
        from jupyter_client.connect import channel_socket_types

        sock = self.context.socket(channel_socket_types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(self._make_url(channel))
        return sock
