"""The gateway's durable spool: every verified delivery is written here before the sender gets its 2xx,
and leaves only once the server has stored it. Order is the spool's id order.

SQLite in WAL mode with ``synchronous=FULL``: once a write returns, the event survives a crash or
power loss. Concurrent deliveries share one transaction (``SpoolWriter``), so the fsync is paid
once per batch, not once per delivery.

A delivery the server keeps failing on is moved to the ``dead`` table (with its last error and
attempt count) so it never holds back those behind it; ``requeue_dead`` puts it back at the end
of the queue once the cause is fixed (``webhook-gateway requeue-dead``, safe while serving).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MAX_WRITE_BATCH = 512


@dataclass(frozen=True)
class Delivery:
    integration: str
    body: bytes
    headers: dict[str, str]
    received_ms: int


@dataclass(frozen=True)
class Spooled:
    id: int
    delivery: Delivery


@dataclass(frozen=True)
class DeadLetter:
    id: int
    integration: str
    body_bytes: int
    received_ms: int
    dead_ms: int
    attempts: int
    error: str


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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY AUTOINCREMENT, integration TEXT NOT NULL, "
            "body BLOB NOT NULL, headers TEXT NOT NULL, received_ms INTEGER NOT NULL, dead_ms INTEGER NOT NULL, "
            "attempts INTEGER NOT NULL, error TEXT NOT NULL)"
        )
        # Kept in memory: a count(*) per delivery would scan the whole backlog.
        self._depth = int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def add_many(self, deliveries: list[Delivery]) -> list[int]:
        """One transaction, one fsync; the ids in the order given."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [
                    int(
                        self._db.execute(
                            "INSERT INTO spool (integration, body, headers, received_ms) VALUES (?, ?, ?, ?)",
                            (d.integration, d.body, json.dumps(d.headers), d.received_ms),
                        ).lastrowid
                        or 0
                    )
                    for d in deliveries
                ]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth += len(ids)
            return ids

    def oldest(self, limit: int, max_bytes: int) -> list[Spooled]:
        """The next deliveries to forward, at least one, together at most max_bytes of body."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, integration, body, headers, received_ms FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            if len(rows) < limit:  # the whole spool was read: the exact depth (requeue-dead may have added)
                self._depth = len(rows)
        batch: list[Spooled] = []
        size = 0
        for row in rows:
            size += len(row[2])
            if batch and size > max_bytes:
                break
            batch.append(Spooled(row[0], Delivery(row[1], bytes(row[2]), json.loads(row[3]), row[4])))
        return batch

    def remove_many(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids]).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth -= removed

    def depth(self) -> int:
        return self._depth

    def dead_letter(self, spool_id: int, error: str, attempts: int) -> bool:
        """Moves one delivery to the dead table; False if it was no longer spooled."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = self._db.execute(
                    "INSERT INTO dead (integration, body, headers, received_ms, dead_ms, attempts, error) "
                    "SELECT integration, body, headers, received_ms, ?, ?, ? FROM spool WHERE id = ?",
                    (int(time.time() * 1000), attempts, error[:2000], spool_id),
                ).rowcount
                self._db.execute("DELETE FROM spool WHERE id = ?", (spool_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth -= moved
            return moved == 1

    def dead_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM dead").fetchone()[0])

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, integration, length(body), received_ms, dead_ms, attempts, error FROM dead "
                "ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def requeue_dead(self, ids: list[int] | None = None) -> int:
        """Puts dead deliveries (all, or those ids) back at the end of the queue; how many moved."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if ids is None:
                    ids = [int(row[0]) for row in self._db.execute("SELECT id FROM dead ORDER BY id")]
                moved = 0
                for dead_id in ids:
                    moved += self._db.execute(
                        "INSERT INTO spool (integration, body, headers, received_ms) "
                        "SELECT integration, body, headers, received_ms FROM dead WHERE id = ?",
                        (dead_id,),
                    ).rowcount
                    self._db.execute("DELETE FROM dead WHERE id = ?", (dead_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth += moved
            return moved

    def writable(self) -> bool:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SpoolWriter:
    """Group commit for the request handlers: each caller waits for the commit that holds its
    delivery. While one batch is being written (in a thread: fsync blocks), new deliveries gather for
    the next, so under load many share one commit and an idle gateway writes each at once."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._pending: list[tuple[Delivery, asyncio.Future[int]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def add(self, delivery: Delivery) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_WRITE_BATCH], self._pending[MAX_WRITE_BATCH:]
            try:
                ids = await asyncio.to_thread(self._spool.add_many, [delivery for delivery, _ in batch])
            except Exception as exc:  # the disk failed: these deliveries are not durable, say so
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), spool_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(spool_id)
