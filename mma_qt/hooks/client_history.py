"""The client's calls for a workspace's history: its runs, one past run, a search of
its streams, and new runs from past ones (Resume, a re-run of one ticket). A mixin of
:class:`~.client.ApiHookClient`."""

from __future__ import annotations

from typing import Any

from mma_qt.hooks.client_steering import given


class HistoryCalls:
    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError  # ApiHookClient.call

    def list_runs(self, limit: int | None = None, *, workspace: str | None = None) -> Any:
        """The workspace's runs, newest first: ``run_id``, ``parent_run_id``, ``date``,
        ``epic``, ``status``, ``tickets_done``, ``tickets_total``, ``tokens``,
        ``cost_usd``, ..."""
        return self.call("list_runs", given(limit=limit, workspace=workspace))

    def get_run(self, run_id: str, *, streams: bool | None = None,
                workspace: str | None = None) -> Any:
        """A past run in the ``get_mma_status`` shape, with ``run_id`` and
        ``parent_run_id`` (``streams=False``: stream lengths instead of texts)."""
        return self.call("get_run", given(run_id=run_id, streams=streams, workspace=workspace))

    def search_streams(self, query: str, limit: int | None = None, *,
                       workspace: str | None = None) -> Any:
        """Streams holding ``query``: ``run_id``, ``stream_id``, ``epic``, ``snippet``."""
        return self.call("search_streams", given(query=query, limit=limit,
                                                 workspace=workspace))

    def resume_run(self, run_id: str, *, workspace: str | None = None) -> Any:
        """Run an interrupted (failed, cancelled) run's unfinished tickets in a new run:
        ``{run_id, parent_run_id, status}``."""
        return self.call("resume_run", given(run_id=run_id, workspace=workspace))

    def rerun_ticket(self, run_id: str, ticket_id: str, *, prompt: str | None = None,
                     model: str | None = None, workspace: str | None = None) -> Any:
        """Run a past run's ticket again, with an edited prompt or model, as a new attempt
        in a new run: ``{run_id, parent_run_id, status}``."""
        return self.call("rerun_ticket", given(run_id=run_id, ticket_id=ticket_id,
                                               prompt=prompt, model=model,
                                               workspace=workspace))
