"""The gateway's durable spool: deliveries the server could not take in time, kept in order.

SQLite in WAL mode with ``synchronous=FULL``: once ``add`` returns, the event survives a crash
or power loss, so answering ClickUp 2xx after it is safe.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spooled:
    id: int
    integration: str
    body: bytes
    headers: dict[str, str]
    received_ms: int


class Spool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, integration TEXT NOT NULL, "
            "body BLOB NOT NULL, headers TEXT NOT NULL, received_ms INTEGER NOT NULL)"
        )

    def add(self, integration: str, body: bytes, headers: dict[str, str], received_ms: int) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO spool (integration, body, headers, received_ms) VALUES (?, ?, ?, ?)",
                (integration, body, json.dumps(headers), received_ms),
            )
            return int(cursor.lastrowid or 0)

    def oldest(self, limit: int = 50) -> list[Spooled]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, integration, body, headers, received_ms FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Spooled(r[0], r[1], bytes(r[2]), json.loads(r[3]), r[4]) for r in rows]

    def remove(self, spooled_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE id = ?", (spooled_id,))

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def writable(self) -> bool:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self._db.close()
