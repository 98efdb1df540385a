"""``run_command``: the builtin tool that runs a shell command. Pure, no Qt.

The command runs through the track's :class:`~mma_qt.core.tools.commands.CommandRunner`
(its own process group, a scrubbed environment, bubblewrap where available); this module
turns its outcome into the :class:`~mma_qt.core.tools.base.ToolResult` the model reads.
"""

from __future__ import annotations

from pydantic import Field

from .base import Arguments, ModelTool, ProposedChange, ToolContext, ToolResult


class RunCommandArgs(Arguments):
    command: str = Field(min_length=1, description="A shell command line (bash), run in the "
                                                   "working directory.")
    timeout_s: float = Field(default=120, gt=0, description="Seconds before the command is "
                                                            "killed.")


class RunCommand(ModelTool[RunCommandArgs]):
    name = "run_command"
    description = ("Run a shell command in the working directory and return its exit code "
                   "and output (stdout and stderr together). It is killed after timeout_s "
                   "seconds. Secrets are not in its environment.")
    mutating = True
    editable = "command"
    args_model = RunCommandArgs

    def propose(self, args: RunCommandArgs, ctx: ToolContext) -> ProposedChange:
        return ProposedChange(self.name, args.model_dump(), command=args.command,
                              editable_text=args.command, note=ctx.commands.describe())

    def call(self, args: RunCommandArgs, ctx: ToolContext) -> ToolResult:
        settings = ctx.settings
        timeout = args.timeout_s if "timeout_s" in args.model_fields_set \
            else settings.default_timeout_s
        capped = ""
        if timeout > settings.max_timeout_s:
            timeout = settings.max_timeout_s
            capped = f"[timeout_s capped at the configured maximum, {timeout:g} s]\n"
        outcome = ctx.commands.run(args.command, timeout, ctx.cancel)
        body, cut = capped + outcome.output, outcome.truncated
        code = outcome.exit_code
        killed = "the command and every process it started were killed"
        if outcome.timed_out:
            return ToolResult.failure(f"timed out after {timeout:g} s; {killed}", body, cut)
        if outcome.cancelled:
            return ToolResult.failure(f"cancelled; {killed}", body, cut)
        if code is None:
            return ToolResult.failure(body.strip())
        if outcome.blocked:
            return ToolResult.failure(f"blocked by the sandbox: {outcome.blocked} "
                                      f"(exit code {code})", body, cut)
        if code != 0:
            return ToolResult.failure(f"exit code {code}", body, cut)
        return ToolResult.success(f"exit code 0\n{body}", "exit code 0", cut)
