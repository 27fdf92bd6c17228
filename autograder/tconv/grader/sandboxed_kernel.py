"""A notebook's kernel, started inside a ``Sandbox``: the kernel manager nbgrader's executor uses
while grading, and what the kernel is told.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import supervise
from .sandbox import Limits, Sandbox


def kernel_environment() -> dict:
    """What a notebook's kernel is told, besides the sandbox's own variables: that nbgrader is
    grading it (NBGRADER_EXECUTION, set by nbgrader while it runs the notebook: chapters 06 and
    07 then train for a few steps, and the course's pictures are not drawn), and the inline
    backend, so that the picture of a wrong answer reaches the feedback as a PNG."""
    environment = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    if os.environ.get("NBGRADER_EXECUTION") in ("autograde", "validate"):
        environment["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
    return environment


MEMORY_EXCEEDED = "memory-exceeded"


def kernel_manager_class():
    """A jupyter_client kernel manager whose kernels start inside a Sandbox. Defined on demand so
    that importing this module does not import jupyter_client."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Dict, Unicode

    class SandboxedKernelManager(AsyncKernelManager):
        """Configured per notebook through traitlets: ``folder`` (private, made by the grader),
        ``limits`` (Limits fields) and ``mode``. When the memory watch ends the kernel, it
        writes the file MEMORY_EXCEEDED beside ``folder`` (out of the sandbox's sight)."""
        folder = Unicode("", config=True)
        limits = Dict({}, config=True)
        mode = Unicode("root", config=True)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._watch = None
            self._group = None  # the kernel's process group: every process the sandbox started
            if self.mode != "off":
                # No network in the sandbox: the kernel's sockets are files in its own folder.
                self.transport = "ipc"
                self.ip = str(Path(self.folder) / "kernel")
                self.connection_file = str(Path(self.folder) / "kernel.json")

        def sandbox(self) -> Sandbox:
            return Sandbox(Path(self.folder), Limits(**self.limits), mode=self.mode)

        async def _async_pre_start_kernel(self, **kw):
            # Interrupt through the control channel: a signal would reach bwrap, not the kernel.
            self.kernel_spec.interrupt_mode = "message"
            return await super()._async_pre_start_kernel(**kw)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            sandbox = self.sandbox()
            if sandbox.enabled:  # written 0600 by this process; only this sandbox sees it
                os.chmod(self.connection_file, 0o644)
            command = sandbox.command(list(kernel_cmd), sockets=(Path(self.folder),),
                                      environment=kernel_environment())
            kw = dict(kw, cwd=self.folder, stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                      env=sandbox.host_environment(kernel_environment()))
            info = await super()._async_launch_kernel(command, **kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:  # started in a session, and so a group, of its own
                self._group = process.pid
                marker = Path(self.folder).parent / MEMORY_EXCEEDED  # beside, out of its sight
                self._watch = sandbox.watch(process.pid,
                                            lambda total: marker.write_text(str(total)))
            return info

        async def _async_cleanup_resources(self, restart: bool = False):
            self._end_group()
            return await super()._async_cleanup_resources(restart=restart)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False):
            try:  # (AsyncKernelManager binds this name to the base class's coroutine)
                return await super().shutdown_kernel(now=now, restart=restart)
            finally:  # the provisioner may be gone by the time resources are cleaned up
                self._end_group()

        def _end_group(self):
            if self._group is not None and self.mode != "off":
                supervise.end_group(self._group)
            if self._watch is not None:
                self._watch.stop()

    return SandboxedKernelManager
