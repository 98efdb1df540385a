"""The session's document: its part of the ``get_mma_status`` answer and of the
``--report`` file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model.domain import Tier, Track

if TYPE_CHECKING:
    from .session import MmaSession


def snapshot(session: MmaSession, *, streams: bool = True) -> dict[str, Any]:
    """The session's part of the ``get_mma_status`` answer and of the ``--report`` file.

    ``streams=False`` gives stream lengths only. Cheap on the GUI thread even with full
    streams: the texts are the transcripts' own immutable strings, referenced, not
    copied. Every container is fresh, so the document can be encoded later, in slices,
    while the session changes.
    """
    session.hub.drain()
    track = session.active_track
    return {
        "status": str(session.status),
        "mode": str(session.mode),
        "proposed_tracks": [dict(t) for t in session.proposed_tracks],
        "active_tier": session.active_tier_label(),
        "error": session.error,
        "provider": session.provider_label,
        "epic": session.epic,
        "workspace": session.workspace,
        "track": None if track is None else track.to_dict(),
        "tracks": [_track_dict(session, t) for t in session.tracks],
        "tickets": [t.to_dict() for t in session.tickets.values()],
        "mma_streams": (
            {sid: session.hub.text(sid) for sid in session.records}
            if streams
            else {sid: session.hub.length(sid) for sid in session.records}
        ),
        "streams": [
            {
                "stream_id": r.stream_id,
                "tier": r.tier.label,
                "ticket_id": r.ticket_id,
                "title": r.title,
                "status": r.status,
                "model": r.model,
                "length": session.hub.length(r.stream_id),
                "elapsed_s": None if (t := r.elapsed()) is None else round(t, 3),
            }
            for r in session.records.values()
        ],
        "tier_usage": {t.label: session.tier_rollup(t).to_dict() for t in Tier},
        "totals": session.totals().to_dict(),
        "elapsed_s": None if (e := session.elapsed()) is None else round(e, 3),
    }

def _track_dict(session: MmaSession, track: Track) -> dict[str, Any]:
    rollup = session.track_rollup(track.id)
    cost = round(rollup.cost_usd, 6) if rollup.cost_known else None
    return {**track.to_dict(), "status": str(track.status), "error": track.error,
            "tickets": [t.id for t in track.tickets], "usage": rollup.to_dict(),
            "cost_usd": cost}
