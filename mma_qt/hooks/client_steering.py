"""The client's calls for steering the pipeline: the track proposal, the run mode,
per-ticket control and a track's cancel. A mixin of :class:`~.client.ApiHookClient`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def given(**params: Any) -> dict[str, Any]:
    """The params that are not None."""
    return {name: value for name, value in params.items() if value is not None}


class SteeringCalls:
    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError  # ApiHookClient.call

    def plan_epic(self, epic: str, workspace: str | None = None) -> Any:
        """Start a run that stops after Tier 1 with its tracks ``proposed``."""
        return self.call("plan_epic", given(epic=epic, workspace=workspace))

    def get_proposal(self) -> Any:
        """``{proposed_tracks, status}``."""
        return self.call("get_proposal")

    def accept_tracks(self, tracks: Sequence[Mapping[str, Any]] | None = None,
                      drop: Sequence[str] = ()) -> Any:
        """Run the proposal (or ``tracks``, edited and in order), less ``drop``."""
        params: dict[str, Any] = {"drop": list(drop)}
        if tracks is not None:
            params["tracks"] = [dict(t) for t in tracks]
        return self.call("accept_tracks", params)

    def replan(self, remark: str) -> Any:
        return self.call("replan", {"remark": remark})

    def set_mode(self, mode: str) -> Any:
        """``step`` (spawns wait for approval) or ``auto``."""
        return self.call("set_mode", {"mode": mode})

    def set_ticket_step(self, ticket_id: str, step: bool = True) -> Any:
        return self.call("set_ticket_step", {"ticket_id": ticket_id, "step": step})

    def approve_spawn(self, key: str, *, prompt: str | None = None,
                      model: str | None = None) -> Any:
        """Approve a spawn with the user's prompt and/or model."""
        return self.call("approve", given(key=key, prompt=prompt, model=model))

    def retry(self, ticket_id: str, *, model: str | None = None,
              prompt: str | None = None) -> Any:
        return self.call("retry", given(ticket_id=ticket_id, model=model, prompt=prompt))

    def skip(self, ticket_id: str, reason: str) -> Any:
        return self.call("skip", {"ticket_id": ticket_id, "reason": reason})

    def block(self, ticket_id: str, reason: str) -> Any:
        return self.call("block", {"ticket_id": ticket_id, "reason": reason})

    def unblock(self, ticket_id: str) -> Any:
        return self.call("unblock", {"ticket_id": ticket_id})

    def set_ticket_model(self, ticket_id: str, model: str) -> Any:
        return self.call("set_ticket_model", {"ticket_id": ticket_id, "model": model})

    def edit_ticket(self, ticket_id: str, **fields: Any) -> Any:
        """``title``, ``description``, ``depends_on``, ``target_files``."""
        return self.call("edit_ticket", {"ticket_id": ticket_id, **fields})

    def cancel_track(self, track_id: str) -> Any:
        return self.call("cancel_track", {"track_id": track_id})
