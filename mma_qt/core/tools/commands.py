"""``run_command``: a shell command in the working directory, confined where the OS allows.

A :class:`CommandRunner` per track working directory runs a command string with
``bash -c`` (``/bin/sh`` where there is no bash):

- with the working directory as cwd, in a process group of its own
  (``start_new_session``), stdin closed;
- with the environment scrubbed of every provider key variable and every variable whose
  name contains ``KEY``, ``TOKEN``, ``SECRET`` or ``PASSWORD`` (:func:`scrubbed_env`);
- stdout and stderr captured together (in order) and bounded: the first and last parts
  are kept, the middle is replaced by a note saying how many bytes were left out;
- past its timeout, or as soon as its cancel token fires, the whole process group is
  killed; so are processes it left running in the background when it exits.

**Confinement.** Where ``bwrap`` (bubblewrap) is installed and can create a sandbox here,
the command runs inside it (``confinement == "bubblewrap"``)::

    bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp \\
          --bind WD WD [--ro-bind WD/.git WD/.git] [--ro-bind WD/.mma WD/.mma] \\
          [--unshare-net] --unshare-pid --die-with-parent --new-session \\
          --clearenv --setenv NAME VALUE ... --chdir WD -- bash -c COMMAND

The working directory is writable and everything else is read-only; ``/tmp`` is a
private, empty tmpfs that disappears with the command; there is no network (a fresh
loopback with nothing listening) unless ``allow_network``; the command sees only its own
processes; a worktree's ``.git`` file and the app's ``.mma`` folder are read-only (the app
makes the commits). The interpreter running the app (``sys.executable``) stays usable
inside: if it lives under ``/tmp`` its installation is bound read-only as well.

A failed command whose output shows that the sandbox denied something ("Read-only file
system", an unreachable network) gets ``error: blocked by the sandbox: <what>`` in front
of its output, so the model does not mistake it for a broken tool.

Where bubblewrap is missing or cannot run, the command runs **unconfined**
(``confinement == "none"``) and :meth:`CommandRunner.describe` says so plainly, with the
reason, for the approval dialog and the README.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..model.cancel import CancelToken
from ..settings.keys import ENV_VARS
from .base import OUTPUT_LIMIT

Confinement = Literal["bubblewrap", "none"]

#: Substrings of variable names that are never passed to a command (case-insensitive).
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD")
#: How often the runner checks whether the command has exited (a cancel wakes it at once).
POLL_S = 0.05
_READ_CHUNK = 65536


def scrubbed_env(env: Mapping[str, str], also: Iterable[str] = ()) -> dict[str, str]:
    """``env`` without provider key variables, ``also``, and any name with a secret marker."""
    drop = {name for names in ENV_VARS.values() for name in names} | set(also)
    return {
        name: value for name, value in env.items()
        if name not in drop and not any(m in name.upper() for m in SECRET_MARKERS)
    }


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    command: str
    #: The exit code; negative: killed by that signal. None: never started.
    exit_code: int | None
    output: str
    #: The output was cut to the limit (head and tail kept).
    truncated: bool
    timed_out: bool
    cancelled: bool
    #: What the sandbox denied, if the output shows it (e.g. "writing outside ...").
    blocked: str | None
    confinement: Confinement
    #: The process group id the command ran in (the runner's child).
    pgid: int | None
    duration_s: float


#: (pattern in a failed command's output, what the sandbox denied); network ones apply
#: only when the network is off.
_FS_DENIED = (
    re.compile(r"read-only file system", re.IGNORECASE),
    "writing outside the working directory (the rest of the file system is read-only, "
    "and so are .git and .mma)",
)
_NET_DENIED = (
    re.compile(r"network is unreachable|temporary failure in name resolution|"
               r"name or service not known|could not resolve host|connection refused|"
               r"no address associated with hostname|getaddrinfo failed",
               re.IGNORECASE),
    "network access (there is no network inside the sandbox; `allow_network = true` in "
    "the config turns it on)",
)


class CommandRunner:
    """Runs commands for one working directory; see the module docstring."""

    def __init__(
        self,
        workdir: Path,
        *,
        allow_network: bool = False,
        confine: bool = True,
        bwrap: str | None = None,
        interpreter: Path | None = None,
        env: Mapping[str, str] | None = None,
        output_limit: int = OUTPUT_LIMIT,
    ) -> None:
        self.workdir = Path(workdir).resolve(strict=True)
        self.allow_network = allow_network
        self.output_limit = output_limit
        self.interpreter = Path(interpreter or sys.executable)
        #: None: the process environment at the time of each command.
        self._env = None if env is None else dict(env)
        self._shell = shutil.which("bash") or "/bin/sh"
        #: None: not installed (``bwrap`` may name another binary, or a missing one).
        self._bwrap = shutil.which(bwrap or "bwrap")
        self._confine = confine
        self._probe_lock = threading.Lock()
        self._probed: tuple[Confinement, str, str] | None = None

    @property
    def confinement(self) -> Confinement:
        """Either "bubblewrap" or "none" (probed once, on first use)."""
        return self._probe_once()[0]

    @property
    def unconfined_reason(self) -> str:
        """Why commands run unconfined ("" when they are confined)."""
        return self._probe_once()[1]

    @property
    def interpreter_problem(self) -> str:
        """Why the interpreter running the app cannot run inside the sandbox ("" if it can)."""
        return self._probe_once()[2]

    def _probe_once(self) -> tuple[Confinement, str, str]:
        with self._probe_lock:
            if self._probed is None:
                self._probed = self._probe()
            return self._probed

    def _probe(self) -> tuple[Confinement, str, str]:
        """(confinement, why unconfined, why the interpreter cannot run inside)."""
        if not self._confine:
            return "none", "confinement is turned off", ""
        if self._bwrap is None:
            return "none", "bubblewrap (bwrap) is not installed", ""
        failure = self._try_in_sandbox([self._shell, "-c", "exit 0"])
        if failure:
            return "none", f"bubblewrap cannot create a sandbox here ({failure})", ""
        return "bubblewrap", "", self._try_in_sandbox([str(self.interpreter), "-c", "pass"])

    def _try_in_sandbox(self, inner: list[str]) -> str:
        """Empty if ``inner`` runs and exits 0 inside the sandbox, else what went wrong."""
        argv = self._bwrap_argv(inner, {"PATH": "/usr/bin:/bin"})
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                    stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if result.returncode == 0:
            return ""
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {result.returncode}"

    def describe(self) -> str:
        """One plain sentence on how commands run, for the approval dialog and the log."""
        if self.confinement == "bubblewrap":
            network = ("with network access" if self.allow_network else "with no network")
            python = ("" if not self.interpreter_problem else
                      f" {self.interpreter} cannot run inside it ({self.interpreter_problem}).")
            return (f"Runs inside bubblewrap: only {self.workdir} is writable, the rest of "
                    f"the file system is read-only, /tmp is private, {network}.{python}")
        return (f"Runs UNCONFINED in {self.workdir} ({self.unconfined_reason}): it can read "
                "and change anything your user can, and reach the network.")

    def environment(self) -> dict[str, str]:
        """The environment a command gets."""
        return scrubbed_env(os.environ if self._env is None else self._env)

    def argv(self, command: str) -> list[str]:
        """The full argument vector that runs ``command``."""
        inner = [self._shell, "-c", command]
        if self.confinement == "bubblewrap":
            return self._bwrap_argv(inner, self.environment())
        return inner

    def _bwrap_argv(self, inner: list[str], env: Mapping[str, str]) -> list[str]:
        wd = str(self.workdir)
        argv = [str(self._bwrap), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--tmpfs", "/tmp"]
        for path in self._interpreter_paths():
            argv += ["--ro-bind", str(path), str(path)]
        argv += ["--bind", wd, wd]
        for name in (".git", ".mma"):
            inside = self.workdir / name
            if inside.exists() and not inside.is_symlink():
                argv += ["--ro-bind", str(inside), str(inside)]
        if not self.allow_network:
            argv.append("--unshare-net")
        argv += ["--unshare-pid", "--die-with-parent", "--new-session", "--clearenv"]
        for name, value in env.items():
            argv += ["--setenv", name, value]
        return [*argv, "--chdir", wd, "--", *inner]

    def _interpreter_paths(self) -> list[Path]:
        """Folders of the interpreter's installation that the private /tmp would hide."""
        tmp = Path("/tmp")
        candidates = {self.interpreter.parent.parent, self.interpreter.resolve().parent.parent}
        if self.interpreter == Path(sys.executable):
            candidates |= {Path(sys.prefix), Path(sys.base_prefix)}
        found = []
        for path in sorted(candidates):
            if path.is_relative_to(tmp) and path != tmp and path.is_dir():
                found.append(path)
        return found

    def run(
        self, command: str, timeout_s: float, cancel: CancelToken | None = None
    ) -> CommandOutcome:
        """Run ``command`` to its end, its timeout or its cancellation; never raises for the
        command's own failure (an OSError starting it is reported in the outcome)."""
        started = time.monotonic()
        if cancel is not None and cancel.cancelled:
            return CommandOutcome(command, None, "", False, False, True, None,
                                  self.confinement, None, 0.0)
        try:
            proc = subprocess.Popen(
                self.argv(command), cwd=self.workdir, env=self.environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return CommandOutcome(command, None, f"cannot start the command: {exc}", False,
                                  False, False, None, self.confinement, None, 0.0)
        capture = _Capture(self.output_limit)
        assert proc.stdout is not None
        reader = threading.Thread(target=capture.drain, args=(proc.stdout.fileno(),), daemon=True,
                                  name=f"run_command-{proc.pid}")
        reader.start()
        timed_out = cancelled = False
        deadline = started + timeout_s
        pause = 0.001  # doubling up to POLL_S: quick commands return quickly
        try:
            while not _exited(proc):
                if cancel is not None and cancel.cancelled:
                    cancelled = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                pause = min(pause * 2, POLL_S, left)
                if cancel is not None:
                    cancel.wait(pause)  # wakes at once on cancel
                else:
                    time.sleep(pause)
        finally:
            # Whatever ended the wait (exit, timeout, cancel, an exception here), nothing
            # the command started outlives it. The leader is not reaped before this, so its
            # group id cannot have been reused by another process.
            _kill_group(proc.pid)
            proc.wait()
            reader.join(timeout=5)
            if reader.is_alive():
                # Something the command started in a session of its own (so outside the
                # killed group) holds the output open: leave the reader to it.
                capture.error = ("a process the command started in a session of its own "
                                 "still holds its output open; it was not waited for")
            else:
                proc.stdout.close()
        output, truncated = capture.text()
        code = proc.returncode
        blocked = None if (timed_out or cancelled or code == 0) else self._blocked(output)
        return CommandOutcome(command, code, output, truncated, timed_out, cancelled, blocked,
                              self.confinement, proc.pid, time.monotonic() - started)

    def _blocked(self, output: str) -> str | None:
        if self.confinement != "bubblewrap":
            return None
        denied = [_FS_DENIED] + ([] if self.allow_network else [_NET_DENIED])
        found = [what for pattern, what in denied if pattern.search(output)]
        return "; ".join(found) or None


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` has exited, leaving it unreaped where the OS allows (waitid)."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # macOS: no waitid; poll() reaps, a narrow window for pid reuse
        return proc.poll() is not None
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    return waitid(os.P_PID, proc.pid, flags) is not None


def _kill_group(pgid: int) -> None:
    # ProcessLookupError: the group is already gone, which is the goal.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class _Capture:
    """Keeps the first and last ``limit`` bytes of a stream, counting what it drops."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0
        self.error = ""

    def drain(self, fd: int) -> None:
        """Read ``fd`` to its end (run in a thread of its own)."""
        try:
            while chunk := os.read(fd, _READ_CHUNK):
                self._feed(chunk)
        except OSError as exc:
            self.error = f"reading the output failed: {exc}"

    def _feed(self, chunk: bytes) -> None:
        self._total += len(chunk)
        room = self._limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self._limit:
                del self._tail[: len(self._tail) - self._limit]

    def text(self) -> tuple[str, bool]:
        """The captured output as text, cut to the limit with a note; and whether it was."""
        error = f"\n[{self.error}]" if self.error else ""
        head = self._head.decode("utf-8", errors="replace")
        tail = bytes(self._tail[-self._limit:])
        dropped = self._total - len(self._head) - len(tail)
        whole = head + tail.decode("utf-8", errors="replace")
        if dropped == 0 and len(whole) <= self._limit:
            return whole + error, False
        keep_head = self._limit // 4
        keep_tail = self._limit - keep_head
        tail_text = tail.decode("utf-8", errors="replace")[-keep_tail:]
        omitted = self._total - len(head[:keep_head].encode()) - len(tail_text.encode())
        note = (f"\n[... {omitted:,} bytes of output left out: {self._total:,} in all. To read "
                "everything, run the command again with its output redirected to a file in "
                "the working directory, then use read_file or search_text on it ...]\n")
        return head[:keep_head] + note + tail_text + error, True
