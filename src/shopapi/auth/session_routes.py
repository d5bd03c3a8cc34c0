"""Views of sessions: refresh, the account's live sessions, ending them."""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import db
from ..caller import authenticated, checked_read, principal
from ..db import utcnow
from . import sessions
from .blueprint import bp, settings, token_body, user_agent
from .schemas import RefreshIn, RefreshOut, SessionsOut


@bp.post("/refresh")
@bp.input(RefreshIn, arg_name="data")
@bp.output(RefreshOut)
@bp.doc(responses={401: "Unknown, used-up or expired refresh token, or an ended session"})
def refresh(data: dict[str, Any]) -> Any:
    """New tokens for a refresh token, which is used up; a used-up one ends its session."""
    tokens = sessions.refresh(
        db.session(), settings(), token=data["refresh_token"], user_agent=user_agent()
    )
    return token_body(tokens)


@bp.get("/sessions")
@authenticated(checked_in_read=True)
@bp.output(SessionsOut)
def list_sessions() -> Any:
    """The account's live sessions, newest first."""
    caller = principal()
    rows = checked_read(sessions.LIVE_SESSIONS, {"me": caller.user_id, "now": utcnow()})
    rows.sort(key=lambda row: (row[1], row[0]), reverse=True)
    return {
        "items": [
            {
                "id": str(session_id),
                "created_at": created_at,
                "last_used_at": last_used_at,
                "expires_at": expires_at,
                "user_agent": agent,
                "current": session_id == caller.session_id,
            }
            for session_id, created_at, last_used_at, expires_at, agent in rows
        ]
    }


@bp.delete("/sessions/<id:session_id>")
@authenticated()
@bp.output({}, status_code=204)
@bp.doc(responses={404: "Not a live session of this account"})
def end_session(session_id: int) -> Any:
    """End one of the account's sessions."""
    sessions.end_or_404(db.session(), user_id=principal().user_id, session_id=session_id)
    return Response(status=204)


@bp.delete("/sessions")
@authenticated()
@bp.output({}, status_code=204)
def end_every_session() -> Any:
    """Sign out everywhere: every session of the account ends, this one included."""
    sessions.end(db.session(), user_id=principal().user_id, reason="revoked")
    return Response(status=204)
