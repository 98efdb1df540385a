"""The one status vocabulary: of a run, of a ticket, of a stream. Pure logic, no Qt.

The string values are the protocol: the hook's answers and events, the ``--report`` JSON
and the progress lines carry them verbatim, so a value never changes once published.
Anywhere else in ``mma_qt`` a status is a member of these enums, never a string literal
(``tests/test_status.py`` scans the source for that).
"""

from __future__ import annotations

from enum import StrEnum


class _Status(StrEnum):
    @property
    def label(self) -> str:
        """The value as people read it: ``"in progress"``."""
        return self.value.replace("_", " ")


class RunStatus(_Status):
    IDLE = "idle"
    PLANNING = "planning"
    #: Tier 1's tracks wait for the user (``plan_epic``): accept, edit, drop or re-plan.
    PROPOSED = "proposed"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Found active in the history after the app that ran it died (a crash, a kill):
    #: neither active nor final; its unfinished tickets can be resumed.
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def is_active(self) -> bool:
        return self in (
            RunStatus.PLANNING, RunStatus.PROPOSED, RunStatus.RUNNING, RunStatus.PAUSED,
        )


class TicketStatus(_Status):
    TODO = "todo"
    #: Its spawn waits for the user's approval (step mode).
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BLOCKED = "blocked"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Skipped by the user: counts as done for its dependents.
    SKIPPED = "skipped"
    #: It was running when the app that ran it died (read from the history).
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self in (
            TicketStatus.COMPLETED, TicketStatus.BLOCKED, TicketStatus.FAILED,
            TicketStatus.CANCELLED, TicketStatus.SKIPPED,
        )

    @property
    def satisfies(self) -> bool:
        """Whether a dependent may run: the ticket completed or was skipped."""
        return self in (TicketStatus.COMPLETED, TicketStatus.SKIPPED)


class TrackStatus(_Status):
    """A track of the run (``get_mma_status``' ``tracks[].status``, the ``track`` event)."""

    #: Accepted, waiting for a free track slot (``max_tracks``).
    QUEUED = "queued"
    #: Tier 2 plans its tickets.
    PLANNING = "planning"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (TrackStatus.DONE, TrackStatus.FAILED, TrackStatus.CANCELLED)


class RunMode(_Status):
    """Whether spawns wait for the user (``step``) or start at once (``auto``); switchable
    during a run (``set_mode``). A ticket's own ``step`` flag makes it wait in ``auto``."""

    STEP = "step"
    AUTO = "auto"


class ProposalState(_Status):
    """Where Tier 1's track proposal is (the ``proposal`` event's ``state``)."""

    #: Waiting for the user: accept (edited, some dropped) or re-plan.
    PROPOSED = "proposed"
    #: Tier 1 plans again with the user's remark.
    REPLANNING = "replanning"
    ACCEPTED = "accepted"


class StreamStatus(_Status):
    """A stream that belongs to no ticket's attempt: Tier 1 and 2 plans, Tier 4 diagnoses."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (StreamStatus.DONE, StreamStatus.FAILED, StreamStatus.CANCELLED)


#: The status of a row of the tree: a Tier 3 row mirrors its ticket's status, every other
#: stream row has a stream status. Both are ``str``: ``StreamStatus.FAILED ==
#: TicketStatus.FAILED``, and they hash alike, so one mapping serves both.
RowStatus = StreamStatus | TicketStatus


class ToolPolicy(_Status):
    """Which mutating tool calls a run approves without asking (per run, switchable).

    ``ask``: every one waits for the user; ``auto-edits``: edits to the ticket's
    ``target_files`` are approved at once, commands and other paths ask; ``auto``:
    everything is approved at once (``--auto``, ``start_epic {auto: true}``).
    """

    ASK = "ask"
    AUTO_EDITS = "auto-edits"
    AUTO = "auto"


class ToolDecision(_Status):
    """How one tool call of a ticket was decided (``get_tool_calls``' ``decision``)."""

    #: A mutating call waiting for the user.
    PENDING = "pending"
    #: A read-only call: no approval needed.
    READ_ONLY = "read_only"
    #: Approved by the run's tool policy, without asking.
    AUTO = "auto"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: Never asked: the call would fail anyway (malformed, bad arguments, a path outside).
    REFUSED = "refused"


class ToolCallState(_Status):
    """Where one tool call is (the ``tool`` event's ``state``)."""

    REQUESTED = "requested"
    #: Waiting for the user's approval.
    WAITING = "waiting"
    RAN = "ran"


class McpServerState(_Status):
    """A user's MCP server during a run (``mma_qt.core.tools.mcp``), for the Settings page."""

    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    STOPPED = "stopped"
