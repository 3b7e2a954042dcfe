"""Insert thousands of rows at once: one executemany of plain values, each column's type applied.

SQLAlchemy's `connection.execute(insert(table), [dict, ...])` builds and processes every row's
parameters in its own Python layers. `insert_rows` compiles the INSERT once for the
connection's dialect, runs each value through its column type's own bind processor (JSON
encoding, UTC datetimes, booleans: exactly what `execute` would store), and hands the driver
the plain rows in one `executemany`. Saving the bench analysis' 3,000 calls, their messages and
10,000 keep-alive rows: 0.39 -> 0.34-0.38 s (what is left is the JSON, the datetimes and SQLite).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """INSERT `rows` into `table`, each row's values in the order of `columns`."""
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    if compiled.positional:  # (SQLite: ?, ?, ...)
        binds = [compiled.binds[name] for name in compiled.positiontup or ()]
    else:  # (psycopg: %(name)s)
        binds = list(compiled.binds.values())
    position = {name: index for index, name in enumerate(columns)}
    picked = [position[bind.key] for bind in binds]  # each bind's value in a row
    processors = [
        table.c[bind.key].type.dialect_impl(dialect).bind_processor(dialect) for bind in binds
    ]
    values = [
        tuple(
            value if process is None else process(value)
            for value, process in zip(map(row.__getitem__, picked), processors, strict=True)
        )
        for row in rows
    ]
    if not values:
        return
    parameters: list[Any] = values
    if not compiled.positional:
        names = [compiled.bind_names[bind] for bind in binds]
        parameters = [dict(zip(names, row, strict=True)) for row in values]
    connection.exec_driver_sql(str(compiled), parameters)
