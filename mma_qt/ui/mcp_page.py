"""Settings → MCP servers: each configured server with its state and its tools, as the
last run left them (read-only; the servers themselves are set in ``config.toml``)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..core.model.status import McpServerState
from ..core.run.controller import Controller
from ..core.tools.mcp import McpServers, McpServerStatus

NOT_STARTED = "not started"
NONE_CONFIGURED = ("No MCP servers configured. Add one to config.toml as "
                   "[mcp.servers.NAME] with command = [...] or url = \"...\".")


def server_statuses(controller: Controller) -> tuple[list[McpServerStatus], bool]:
    """The last run's server states, or the configured servers before any run; and
    whether a run has started them."""
    if controller.runner is not None:
        return controller.runner.mcp.status(), True
    return McpServers(controller.mcp).status(), False


def state_text(status: McpServerStatus, *, started: bool) -> str:
    if not started:
        return NOT_STARTED
    if status.state == McpServerState.FAILED:
        return f"failed: {status.reason}"
    return str(status.state)


class McpServersPage(QWidget):
    """A tree: one row per server (transport and target, state), its tools below it."""

    def __init__(self, statuses: Sequence[McpServerStatus], *, started: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.servers = QTreeWidget()
        self.servers.setObjectName("mcpServers")
        self.servers.setHeaderLabels(["Server / tool", "State / description", "Approval"])
        for status in statuses:
            row = QTreeWidgetItem(self.servers, [
                f"{status.name} ({status.transport}: {status.target})",
                state_text(status, started=started), ""])
            for tool in status.tools:
                QTreeWidgetItem(row, [tool.name, tool.description,
                                      "asks" if tool.needs_approval else "auto-approved"])
        self.servers.expandAll()
        layout = QVBoxLayout(self)
        if not statuses:
            layout.addWidget(QLabel(NONE_CONFIGURED))
        layout.addWidget(self.servers, 1)

    def rows(self) -> list[tuple[str, str]]:
        """(server, state) of each listed server, in config order."""
        items = (self.servers.topLevelItem(i) for i in range(self.servers.topLevelItemCount()))
        return [(item.text(0), item.text(1)) for item in items if item is not None]
