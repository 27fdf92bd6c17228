"""Output capped while it arrives (tconv/grader/capping.py): per cell and per notebook as messages
come in, every kind of output, an error kept (shortened) so a failing cell still fails; a single
message over the cap refused unread; and a 100 MB print leaves the grader's process small."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import nbformat
import pytest

from tconv.grader import capping, course


def message(kind, **content):
    return {"msg_type": kind, "content": content, "header": {"msg_type": kind},
            "parent_header": {}, "metadata": {}}


def capped(cells=2, cell_bytes=1000, notebook_bytes=2500):
    executor = capping.CappedExecute(cell_bytes=cell_bytes, notebook_bytes=notebook_bytes)
    executor.nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")
                                                   for _ in range(cells)])
    executor.clear_before_next_output = False  # as nbclient sets it when a cell starts
    return executor


def test_each_cell_and_the_notebook_keep_at_most_their_cap_and_say_so():
    executor = capped()
    first, second = executor.nb.cells
    for _ in range(4):
        executor.process_message(message("stream", name="stdout", text="a" * 400), first, 0)
    executor.process_message(message("stream", name="stderr", text="b" * 400), first, 0)
    executor.process_message(message("display_data", data={"text/html": "c" * 400},
                                     metadata={}), first, 0)
    executor.process_message(message("error", ename="CheckFailed", evalue="v" * 9000,
                                     traceback=["t" * 9000]), first, 0)
    kinds = [(o.output_type, o.get("name")) for o in first.outputs]
    assert kinds == [("stream", "stdout")] * 3 + [("stream", "stderr"), ("error", None)]
    assert "left out" in first.outputs[2].text and "left out" in first.outputs[3].text
    assert first.outputs[-1].ename == "CheckFailed"            # still fails, shortened
    assert len(first.outputs[-1].evalue) == capping.ERROR_TEXT
    executor = capped(cell_bytes=1000, notebook_bytes=1500)
    first, second = executor.nb.cells
    executor.process_message(message("stream", name="stdout", text="a" * 900), first, 0)
    for _ in range(2):  # the notebook's cap is reached in the next cell
        executor.process_message(message("execute_result", data={"text/plain": "d" * 400},
                                         metadata={}, execution_count=2), second, 1)
    assert [o.output_type for o in second.outputs] == ["execute_result", "stream"]
    assert "for a whole notebook" in second.outputs[1].text
    executor.process_message(message("update_display_data", data={"image/png": "e" * 900},
                                     metadata={}, transient={"display_id": "x"}), second, 1)
    assert len(second.outputs) == 2


@pytest.mark.slow
def test_one_message_over_the_cap_is_refused_unread(tmp_path):
    """At the socket: a plain kernel client takes a 2 MB message, a capped one (1 MB) does not,
    and takes the small one sent before it."""
    import zmq.asyncio

    context = zmq.asyncio.Context()
    publisher = zmq.Context().socket(zmq.PUB)
    port = publisher.bind_to_random_port("tcp://127.0.0.1")
    received = {}
    for name, client_class in [("capped", capping.CappedKernelClient),
                               ("plain", capping.AsyncKernelClient)]:
        client = client_class(ip="127.0.0.1", iopub_port=port, context=context,
                              max_message_bytes=2 ** 20) if name == "capped" else \
            client_class(ip="127.0.0.1", iopub_port=port, context=context)
        connected = client.connect_iopub()
        socket = zmq.Socket.shadow(connected.underlying)  # read without an event loop
        time.sleep(0.3)  # a subscriber misses what is published before it is connected
        publisher.send(b"small")
        publisher.send(b"x" * 2 * 2 ** 20)
        got, deadline = [], time.monotonic() + 1
        while time.monotonic() < deadline:
            try:
                got.append(len(socket.recv(zmq.NOBLOCK)))
            except zmq.Again:
                time.sleep(0.05)
        received[name] = got
        connected.close(linger=0)
    publisher.close(linger=0)
    assert received == {"capped": [5], "plain": [5, 2 * 2 ** 20]}


BIG_PRINT = """
import json, re, sys
from pathlib import Path
import nbformat
import pytest
from traitlets.config import Config
from tconv.grader import capping
config = Config()
config.KernelManager.client_class = "tconv.grader.capping.CappedKernelClient"
config.CappedKernelClient.max_message_bytes = int(sys.argv[1])
notebook = nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_code_cell("for _ in range(30):\\n    print('a' * 100_000, flush=True)"),
    nbformat.v4.new_code_cell("print('b' * 100_000_000)")])
error = ""
try:
    capping.CappedExecute(config=config, timeout=60, iopub_timeout=2).preprocess(notebook, {})
except Exception as caught:
    error = str(caught)
# this process's peak resident memory (VmHWM: since its exec, unlike getrusage's ru_maxrss)
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1])
print(json.dumps({"peak_mb": peak / 1024,
                  "error": error, "kept": [sum(len(o.get("text", "")) for o in cell.outputs)
                                           for cell in notebook.cells]}))
"""


@pytest.mark.slow
def test_a_100_mb_print_leaves_the_grader_small():
    """Through nbgrader's executor with a real kernel (no sandbox: its limits are not what is
    tested): the first cell keeps capping.CELL_BYTES of its 3 MB; the 100 MB print is refused
    unread, the notebook stops there (nbgrader then scores it 0, the submission's fault:
    test_runner), and this process peaks under 200 MB resident. Measured here: about 100 MB,
    against about 390 MB with the cap lifted (2026-12, this machine)."""
    for attempt in (1, 2):
        ran = subprocess.run([sys.executable, "-c", BIG_PRINT, str(capping.MESSAGE_BYTES)],
                             capture_output=True, text=True, timeout=300, cwd=course.AUTOGRADER)
        found = json.loads(ran.stdout.splitlines()[-1])
        # once in eight runs of `make test`, with dozens of kernels starting beside it, the plain
        # kernel died before its first reply (not what is tested here): started once more
        if "Kernel died before replying to kernel_info" not in found["error"]:
            break
        print(f"attempt {attempt}: the kernel died as it started; starting another")
    assert "Timeout waiting for IOPub output" in found["error"]
    assert capping.CELL_BYTES - 200_000 < found["kept"][0] <= capping.CELL_BYTES
    assert found["kept"][1] == 0
    assert found["peak_mb"] < 200, found
