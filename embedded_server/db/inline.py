"""SQLite writes on the event loop itself, for the chat turn's insert that precedes every
first token.

A plain DBAPI connection runs each Core statement compiled once by SQLAlchemy (its SQL
and its bind processors) without SQLAlchemy's per-call execution machinery, which costs
twice the write itself when the server wakes up cold for a request (measured through the
server: 1.0 against 0.5 ms of every first token). The connection never waits for a lock
(``busy_timeout`` 0: a busy database raises at once and the caller falls back to a worker
thread) and never checkpoints (the pooled connections do); writes in WAL mode do not
fsync, so the loop is held for a fraction of a millisecond.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import UpdateBase

T = TypeVar("T")
Params = Mapping[str, Any]
# execute(statement, one row of parameters or several) → the number of rows it touched
Execute = Callable[[UpdateBase, Params | Sequence[Params]], int]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    keys: tuple[str, ...]  # the parameters, in the order of the SQL's placeholders
    processors: tuple[Callable[[Any], Any] | None, ...]

    def values(self, params: Params) -> tuple[Any, ...]:
        return tuple(
            params[key] if process is None else process(params[key])
            for key, process in zip(self.keys, self.processors, strict=True)
        )


class InlineWriter:
    """One SQLite connection for short writes made on the event loop (see the module)."""

    def __init__(self, path: str, dialect: Dialect, setup: Callable[[Any], None]) -> None:
        self._path = path
        self._dialect = dialect
        self._setup = setup
        self._connection: sqlite3.Connection | None = None
        self._compiled: dict[tuple[UpdateBase, tuple[str, ...]], _Compiled] = {}

    def run(self, work: Callable[[Execute], T]) -> T:
        """``work(execute)`` in one transaction; raises ``sqlite3.OperationalError``
        ("database is locked") at once when another connection is writing."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False
            )
            self._setup(self._connection)
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            result = work(lambda statement, params: self._execute(cursor, statement, params))
            cursor.execute("COMMIT")
        except BaseException:
            if self._connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
        return result

    def _execute(
        self, cursor: sqlite3.Cursor, statement: UpdateBase, params: Params | Sequence[Params]
    ) -> int:
        rows = [params] if isinstance(params, Mapping) else list(params)
        compiled = self._compile(statement, tuple(rows[0]))
        if len(rows) == 1:
            cursor.execute(compiled.sql, compiled.values(rows[0]))
        else:
            cursor.executemany(compiled.sql, [compiled.values(row) for row in rows])
        return cursor.rowcount

    def _compile(self, statement: UpdateBase, keys: tuple[str, ...]) -> _Compiled:
        known = self._compiled.get((statement, keys))
        if known is None:
            compiled = statement.compile(dialect=self._dialect, column_keys=list(keys))
            order = tuple(compiled.positiontup or ())
            processors = tuple(
                compiled.binds[key].type.dialect_impl(self._dialect).bind_processor(self._dialect)
                for key in order
            )
            known = self._compiled[(statement, keys)] = _Compiled(
                compiled.string, order, processors
            )
        return known

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
