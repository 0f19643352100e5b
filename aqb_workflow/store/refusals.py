"""Refused attempts, written in their own transaction after the refused one rolled back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from aqb_workflow.domain.formats import format_utc
from aqb_workflow.store import tables as t


def add(conn: Connection, at: datetime, actor: str, roles: str, action: str, reason: str) -> None:
    conn.execute(
        insert(t.refusal).values(
            at=format_utc(at), actor=actor, roles=roles or "-", action=action, reason=reason
        )
    )


def recent(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    query = select(t.refusal).order_by(t.refusal.c.id.desc()).limit(limit)
    return [dict(row) for row in conn.execute(query).mappings()]
