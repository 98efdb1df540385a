"""The hook's methods for steering the pipeline (issue 11): the track proposal, the run
mode, per-ticket control and a track's cancel. Each validates its params with a strict
pydantic model (a bad one: -32602 naming the field) and calls the controller's command of
the same name; a command refused in the run's current state answers -32000 with the
reason, and a malformed edit (:class:`InvalidEdit`) -32602 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.model.status import RunMode
from ..core.run.controller import Controller

Handler = Callable[[dict[str, Any]], Any]
Parse = Callable[[type[BaseModel], dict[str, Any]], Any]
#: The window's Plan: ``plan(epic, workspace)`` (None: the epic panel's own).
Plan = Callable[[str | None, str | None], None]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _PlanEpic(_Params):
    epic: str = Field(min_length=1)
    workspace: str | None = None


class _AcceptTracks(_Params):
    #: The tracks to run, in order (edited); validated by the controller like Tier 1's plan.
    tracks: list[dict[str, Any]] | None = None
    drop: list[str] = []


class _Replan(_Params):
    remark: str = Field(min_length=1)


class _Mode(_Params):
    mode: RunMode = Field(strict=False)


class _TicketParams(_Params):
    ticket_id: str


class _TicketStep(_TicketParams):
    step: bool


class _Retry(_TicketParams):
    model: str | None = Field(default=None, min_length=1)
    prompt: str | None = Field(default=None, min_length=1)


class _Reason(_TicketParams):
    reason: str = Field(min_length=1)


class _Ticket(_TicketParams):
    pass


class _TicketModel(_TicketParams):
    model: str = Field(min_length=1)


class _EditTicket(_TicketParams):
    title: str | None = Field(default=None, min_length=1)
    description: str | None = None
    depends_on: list[str] | None = None
    target_files: list[str] | None = None


class _Track(_Params):
    track_id: str


class _SteeringMethods:
    """The handlers; each parses its params, runs the command and answers."""

    def __init__(self, controller: Controller, parse: Parse, plan: Plan) -> None:
        self.controller = controller
        self.session = controller.session
        self.parse = parse
        self.plan = plan

    def table(self) -> dict[str, Handler]:
        c = self.controller
        on_ticket = self.on_ticket
        return {
            "plan_epic": self.plan_epic,
            "get_proposal": self.get_proposal,
            "accept_tracks": self.accept_tracks,
            "replan": self.replan,
            "set_mode": self.set_mode,
            "set_ticket_step": self.set_ticket_step,
            "retry": on_ticket(_Retry, lambda p: c.retry(p.ticket_id, model=p.model,
                                                         prompt=p.prompt)),
            "skip": on_ticket(_Reason, lambda p: c.skip(p.ticket_id, p.reason)),
            "block": on_ticket(_Reason, lambda p: c.block(p.ticket_id, p.reason)),
            "unblock": on_ticket(_Ticket, lambda p: c.unblock(p.ticket_id)),
            "set_ticket_model": on_ticket(_TicketModel,
                                          lambda p: c.set_ticket_model(p.ticket_id, p.model)),
            "edit_ticket": self.edit_ticket,
            "cancel_track": self.cancel_track,
        }

    def status(self) -> dict[str, Any]:
        return {"status": str(self.session.status)}

    def ticket_state(self, ticket_id: str) -> dict[str, Any]:
        ticket = self.session.tickets.get(ticket_id)
        state = None if ticket is None else str(ticket.status)
        return {"ticket_id": ticket_id, "ticket_status": state, **self.status()}

    def plan_epic(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _PlanEpic = self.parse(_PlanEpic, params)
        self.plan(p.epic, p.workspace)  # the window shows the epic, as start_epic's
        return {"planning": True, **self.status()}

    def get_proposal(self, params: dict[str, Any]) -> dict[str, Any]:
        self.parse(_Params, params)
        return {"proposed_tracks": self.controller.proposed_tracks(), **self.status()}

    def accept_tracks(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _AcceptTracks = self.parse(_AcceptTracks, params)
        self.controller.accept_tracks(p.tracks, p.drop)
        return {"accepted": True, **self.status()}

    def replan(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _Replan = self.parse(_Replan, params)
        self.controller.replan(p.remark)
        return {"replanning": True, **self.status()}

    def set_mode(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _Mode = self.parse(_Mode, params)
        return {"mode": str(self.controller.set_mode(p.mode))}

    def set_ticket_step(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _TicketStep = self.parse(_TicketStep, params)
        self.controller.set_ticket_step(p.ticket_id, p.step)
        return {"ticket_id": p.ticket_id, "step": p.step}

    def on_ticket(self, model: type[_TicketParams], command: Callable[[Any], None]) -> Handler:
        """A per-ticket method: parse, run the command, answer with the ticket's state."""
        def handler(params: dict[str, Any]) -> dict[str, Any]:
            p = self.parse(model, params)
            command(p)
            return self.ticket_state(p.ticket_id)
        return handler

    def edit_ticket(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _EditTicket = self.parse(_EditTicket, params)
        self.controller.edit_ticket(p.ticket_id, title=p.title, description=p.description,
                                    depends_on=p.depends_on, target_files=p.target_files)
        ticket = self.session.tickets.get(p.ticket_id)
        return {**self.ticket_state(p.ticket_id),
                "ticket": None if ticket is None else ticket.to_dict()}

    def cancel_track(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _Track = self.parse(_Track, params)
        self.controller.cancel_track(p.track_id)
        return {"cancelled": p.track_id}


def steering_methods(controller: Controller, parse: Parse, plan: Plan) -> dict[str, Handler]:
    """The methods by name, for :class:`~.hook_api.AppHookApi`'s table."""
    return _SteeringMethods(controller, parse, plan).table()
