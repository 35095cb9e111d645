"""Dashboard sessions and champion moves: small shared facts every replica reads from the store.

A session row is keyed by a hash of the cookie's random id and holds the user's token sealed (the caller,
`bot/web/sessions.py`, hashes and seals; this module stores bytes). A champion move is the version the
newest promotion or rollback of a model made champion, and when (`/metrics` reads it at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from bot.adapters.store.base import StoreBase, dialect_insert
from bot.adapters.store.schema import champion_moves, dashboard_sessions


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    login: str
    sealed_token: bytes
    csrf: str
    started_at: float
    expires_at: float


@dataclass(frozen=True)
class ChampionMove:
    repository: str
    model: str
    version: str
    run_id: str
    kind: str  # promote | rollback
    moved_at: float


class SessionOps(StoreBase):
    """Start, find and end dashboard sessions; record and read champion moves."""

    def save_session(self, row: SessionRow) -> None:
        """Keep `row`, and forget every session that has expired."""
        with self._write() as conn:
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= self._now()))
            conn.execute(dashboard_sessions.insert().values(**row.__dict__))

    def session_row(self, id_hash: str) -> SessionRow | None:
        """The live session with this id hash; None when there is none or it has expired."""
        c = dashboard_sessions.c
        query = select(dashboard_sessions).where(c.id_hash == id_hash, c.expires_at > self._now())
        with self._reader.connect() as conn:
            found = conn.execute(query).mappings().one_or_none()
        return SessionRow(**found) if found is not None else None

    def end_session(self, id_hash: str) -> None:
        with self._write() as conn:
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.id_hash == id_hash))

    def record_champion_move(self, move: ChampionMove) -> None:
        """The champion of (repository, model) is now `move.version` (the newest move replaces the last)."""
        row = {**move.__dict__, "repository": move.repository[:200], "model": move.model[:200]}
        row["moved_at"] = move.moved_at or self._now()
        statement = dialect_insert(self.dialect, champion_moves).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[champion_moves.c.repository, champion_moves.c.model],
            set_={k: v for k, v in row.items() if k not in ("repository", "model")},
        )
        with self._write() as conn:
            conn.execute(statement)

    def champion_moves(self) -> dict[tuple[str, str], ChampionMove]:
        """The newest move of every (repository, model): one query, for a scrape."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(champion_moves)).mappings().all()
        return {(r["repository"], r["model"]): ChampionMove(**r) for r in rows}
