"""Hot write statements compiled once per dialect and run on the transaction's DB-API cursor.

The order path writes a dozen small rows per order. Through `Connection.execute` each one pays
for SQLAlchemy's execution context (cache lookup, parameter processing, result setup), which
costs several times the write itself; here the SQL string and the column bind processors are
resolved once, and each call is one DB-API `execute`. The values stored are the same: every
parameter goes through its column type's own bind processor (Decimal as text on SQLite, NUMERIC
on PostgreSQL, JSON through `JsonType`), and driver errors are raised as SQLAlchemy's
`DBAPIError` subclasses (IntegrityError, OperationalError, ...) as `Connection.execute` does.

Statements run this way bypass SQLAlchemy's cursor events and `echo` logging.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, NoReturn

from sqlalchemy import Connection, TextClause
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.types import Boolean, TypeEngine

from tradeguard.model.events import EventData
from tradeguard.storage.types import (
    DecimalType,
    JsonType,
    WholeString,
    jsonable,
    may_hold_lone_surrogate,
    whole_text,
    without_nul,
)

_Processor = Callable[[Any], Any]


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _NotPlain(Exception):
    """A value `jsonable` would convert otherwise than the encoder's Decimal hook does."""


def _decimal_text(value: Any) -> Any:
    if type(value) is Decimal:
        return str(value)  # what `jsonable` makes of it
    raise _NotPlain


# json.dumps with its defaults builds a fresh C encoder on every call; the order path encodes an
# audit event's data per row, so one encoder is made once (no cycle check: its input is plain
# data). `_C_ENCODE` takes `jsonable` output, `_C_ENCODE_DECIMALS` also Decimals (as strings):
# for both the text is exactly json.dumps's.
_C_ENCODE, _C_ENCODE_DECIMALS = (
    (None, None)
    if c_make_encoder is None
    else tuple(
        c_make_encoder(None, hook, encode_basestring_ascii, None, ": ", ", ", False, False, True)
        for hook in (_refuse, _decimal_text)
    )
)


def dumps_plain(value: Any) -> str:
    """Return `json.dumps(value)` for plain JSON values (dict, list, str, numbers, None)."""
    if _C_ENCODE is None:  # an interpreter without the C accelerator
        return json.dumps(value)
    return "".join(_C_ENCODE(value, 0))


# Exact types the encoder writes as `jsonable` + json.dumps would (Decimal through its hook).
_LEAVES = frozenset({str, int, float, bool, type(None), Decimal})


def _plain_dict(d: dict[Any, Any]) -> bool:
    for k, v in d.items():
        t = type(v)
        if type(k) is not str or not (
            t in _LEAVES
            or (t is dict and _plain_dict(v))
            or ((t is list or t is tuple) and _plain_items(v))
        ):
            return False
    return True


def _plain_items(seq: list[Any] | tuple[Any, ...]) -> bool:
    for v in seq:
        t = type(v)
        if not (
            t in _LEAVES
            or (t is dict and _plain_dict(v))
            or ((t is list or t is tuple) and _plain_items(v))
        ):
            return False
    return True


def _plain_signal(signal: Any) -> bool:
    """Whether the signal of an `EventData` (its one value that may be a container) is plain."""
    return (
        signal is None or type(signal) in _LEAVES or (type(signal) is dict and _plain_dict(signal))
    )


def dumps_jsonable(value: Any) -> str:
    """Return `json.dumps(jsonable(value))` in one pass where it can.

    Data of only exact plain types with string keys (what audit events carry) goes straight to
    the C encoder, Decimals turned into strings as it meets them; anything else (an enum, a
    set, a subclass, a key that is not a string) through `jsonable` first, as always. The
    order path's own `EventData` (string keys, leaf values) is taken as it is but for its
    signal, which is walked like any other data: a leaf the encoder would not write as
    `jsonable` does (an enum or a set) still fails over to `jsonable` through the hook.
    """
    t = type(value)
    if _C_ENCODE_DECIMALS is not None and (
        (t is dict and _plain_dict(value))
        or (t is EventData and _plain_signal(value.get("signal")))
        or ((t is list or t is tuple) and _plain_items(value))
        or t in _LEAVES
    ):
        try:
            text = "".join(_C_ENCODE_DECIMALS(value, 0))
        except _NotPlain:  # not reached: the check above admits only what the hook takes
            pass
        else:
            return _whole(value) if "\\ud" in text and may_hold_lone_surrogate(text) else text
    text = dumps_plain(jsonable(value))
    return _whole(value) if "\\ud" in text and may_hold_lone_surrogate(text) else text


def _whole(value: Any) -> str:
    """The JSON text of `value` with every lone surrogate in its strings as U+FFFD."""
    return dumps_plain(whole_text(jsonable(value)))


class DriverStatement:
    """One write statement for one dialect: SQL text, parameter order and bind processors."""

    __slots__ = (
        "_dialect", "_fast_attrs", "_fast_of", "_fast_row", "_hide", "_names", "_positional",
        "_procs", "sql", "table",
    )  # fmt: skip

    def __init__(
        self,
        clause: TextClause,
        dialect: Dialect,
        hide_parameters: bool = False,
        table: str = "",
        objects: bool = False,
    ) -> None:
        compiled = clause.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.table = table  # the table it writes (a write batch keeps each table's order)
        self._dialect = dialect
        self._hide = hide_parameters
        binds = {bp.key: bp for bp in compiled.binds.values()}
        positions = compiled.positiontup
        self._positional = positions is not None
        names: Sequence[str] = positions if positions is not None else list(binds)
        if len(set(names)) != len(names):
            raise ValueError(f"each parameter must appear once in the statement: {self.sql}")
        self._names = tuple(names)
        procs: list[tuple[int, _Processor]] = []
        inline: dict[int, str] = {}
        for i, name in enumerate(self._names):
            type_ = binds[name].type
            proc = type_.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                cast_json = f"%({name})s::JSONB" in self.sql
                procs.append((i, _fast_processor(type_, dialect, proc, cast_json)))
                inline[i] = _inline_kind(type_, dialect)
        self._procs = tuple(procs)
        # `objects`: rows also come as objects (`params_of_objects`), compiled only then
        self._fast_row, self._fast_of, self._fast_attrs = _compile_params(
            self._names, dict(procs), inline, self._positional, objects
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The bind names, in the order `params_of` takes their values."""
        return self._names

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """Return the driver parameters for one row (keyed by bind name)."""
        try:
            return self._fast_row(row)
        except Exception:  # the general path below raises what a refused value raises
            return self._params_slow([row[n] for n in self._names], row)

    def params_of(
        self, values: Sequence[Any], row: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | dict[str, Any]:
        """Return the driver parameters for one row given as its values in `names` order."""
        try:
            return self._fast_of(values)
        except Exception:
            return self._params_slow(list(values), row)

    def params_of_objects(self, objects: Sequence[Any]) -> list[Any]:
        """Return the driver parameters of several rows, each an object whose attributes are
        named as the binds (an `Event` for the audit log's insert)."""
        fast = self._fast_attrs
        if fast is not None:
            try:
                return [fast(o) for o in objects]
            except Exception:  # the general path below raises what a refused value raises
                pass
        names = self._names
        return [self._params_slow([getattr(o, n) for n in names], None) for o in objects]

    def _params_slow(
        self, values: list[Any], row: Mapping[str, Any] | None
    ) -> tuple[Any, ...] | dict[str, Any]:
        try:
            for i, proc in self._procs:
                values[i] = proc(values[i])
        except Exception as exc:
            # What Connection.execute raises when a bind processor refuses a value.
            shown = dict(row) if row is not None else dict(zip(self._names, values, strict=True))
            raise StatementError(str(exc), self.sql, shown, exc) from exc
        if self._positional:
            return tuple(values)
        return dict(zip(self._names, values, strict=True))

    def execute(self, conn: Connection, row: Mapping[str, Any]) -> Any:
        """Run for one row; return the first column of the first returned row, else rowcount."""
        params = self.params(row)
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.execute(self.sql, params)
            if cursor.description is not None:
                first = cursor.fetchone()
                return None if first is None else first[0]
            return cursor.rowcount
        except self._dialect.loaded_dbapi.Error as exc:
            self._raise(conn, raw, exc, params, cursor, False)
        finally:
            cursor.close()

    def execute_params_many(self, conn: Connection, params: list[Any]) -> None:
        """Run once per set of driver parameters (from `params()`) in one executemany call."""
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.executemany(self.sql, params)
        except self._dialect.loaded_dbapi.Error as exc:
            self._raise(conn, raw, exc, params, cursor, True)
        finally:
            cursor.close()

    def _raise(
        self, conn: Connection, raw: Any, exc: Exception, params: Any, cursor: Any, many: bool
    ) -> NoReturn:
        dialect = self._dialect
        disconnect = dialect.is_disconnect(exc, raw, cursor)  # type: ignore[arg-type]
        if disconnect and not conn.invalidated:
            # As Connection.execute does: never hand a broken connection back to the pool.
            conn.invalidate(exc)
        raise DBAPIError.instance(
            self.sql,
            params,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=self._hide,
            connection_invalidated=disconnect,
            dialect=dialect,
            ismulti=many,
        ) from exc


def _inline_kind(type_: TypeEngine[Any], dialect: Dialect) -> str:
    """How `_compile_params` may write a processor inline: "decimal" (str of an exact Decimal,
    SQLite), "bool" (a bool as 0 or 1, SQLite), "json" (`dumps_jsonable`, SQLite without a
    custom serializer), "text" (`WholeString`: an ASCII string without NUL as it is), "ascii"
    (`WholeString` on SQLite, which keeps a NUL: an ASCII string as it is), else "" (a call)."""
    if isinstance(type_, WholeString):
        # ASCII holds no surrogate, and SQLite stores a NUL as given: the processor would
        # return such a string unchanged there, so only PostgreSQL's needs the NUL looked for
        return "ascii" if dialect.name == "sqlite" else "text"
    if dialect.name != "sqlite":
        return ""
    if isinstance(type_, DecimalType):
        return "decimal"
    if isinstance(type_, Boolean) and not dialect.supports_native_boolean:
        return "bool"
    if isinstance(type_, JsonType) and getattr(dialect, "_json_serializer", None) is None:
        return "json"
    return ""


def _compile_params(
    names: Sequence[str],
    procs: dict[int, _Processor],
    inline: dict[int, str],
    positional: bool,
    objects: bool = False,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any], Callable[[Any], Any] | None]:
    """Functions of one row's driver parameters, from a mapping, from values in `names` order
    and (with `objects`, else None) from an object's attributes of those names: the same values
    as applying `procs` in turn, written out as one expression (the order path builds a dozen
    rows per order, each a loop of processor calls otherwise)."""
    env: dict[str, Any] = {"Decimal": Decimal, "dumps_jsonable": dumps_jsonable}
    row_items: list[str] = []
    seq_items: list[str] = []
    attr_items: list[str] = []
    for i, name in enumerate(names):
        # an attribute source only for names that are identifiers (a bind name may not be one)
        attr = f"obj.{name}" if name.isidentifier() else f"getattr(obj, {name!r})"
        sources = [(f"row[{name!r}]", row_items), (f"values[{i}]", seq_items)]
        if objects:
            sources.append((attr, attr_items))
        for source, items in sources:
            proc = procs.get(i)
            kind = inline.get(i, "")
            if proc is None:
                expr = source
            elif kind == "decimal":  # what `_fast_processor`'s decimal does on SQLite
                env[f"p{i}"] = proc
                expr = (
                    f"(str(v) if type(v := {source}) is Decimal"
                    f" else None if v is None else p{i}(v))"
                )
            elif kind == "bool":  # Boolean's processor without native booleans: int(v)
                env[f"p{i}"] = proc
                expr = f"(int(v) if type(v := {source}) is bool else p{i}(v))"
            elif kind == "text":  # WholeString's own test: plain ASCII needs no call
                env[f"p{i}"] = proc
                expr = (
                    f"(v if type(v := {source}) is str and v.isascii() and '\\x00' not in v"
                    f" else p{i}(v))"
                )
            elif kind == "ascii":  # the same on SQLite, where a NUL is kept
                env[f"p{i}"] = proc
                expr = f"(v if type(v := {source}) is str and v.isascii() else p{i}(v))"
            elif kind == "json":  # its json_text
                expr = f"(None if (v := {source}) is None else dumps_jsonable(v))"
            else:
                env[f"p{i}"] = proc
                expr = f"p{i}({source})"
            items.append(expr if positional else f"{name!r}: {expr}")

    def body(items: list[str]) -> str:
        inner = ", ".join(items)
        if not positional:
            return f"{{{inner}}}"
        return f"({inner},)" if items else "()"

    code = (
        f"def from_row(row):\n    return {body(row_items)}\n"
        f"def from_values(values):\n    return {body(seq_items)}\n"
    )
    if objects:
        code += f"def from_attrs(obj):\n    return {body(attr_items)}\n"
    exec(compile(code, "<driver params>", "exec"), env)  # the names are the table's columns
    return env["from_row"], env["from_values"], env.get("from_attrs")


def _fast_processor(
    type_: TypeEngine[Any], dialect: Dialect, proc: _Processor, cast_json: bool
) -> _Processor:
    """Shortcut the common values of our own types; anything else goes to SQLAlchemy's `proc`."""
    name = dialect.name
    if isinstance(type_, DecimalType) and name in ("sqlite", "postgresql"):
        # SQLite stores str(decimal) (TEXT), psycopg sends a Decimal as NUMERIC unchanged.
        as_text = name == "sqlite"

        def decimal(value: Any) -> Any:
            if type(value) is Decimal:
                return str(value) if as_text else value
            return proc(value)

        return decimal
    if isinstance(type_, JsonType) and (name == "sqlite" or (name == "postgresql" and cast_json)):
        # The JSON text SQLAlchemy would send; on PostgreSQL the compiled SQL casts it ::JSONB.
        custom = getattr(dialect, "_json_serializer", None)
        if custom is None and name == "postgresql":

            def json_text_pg(value: Any) -> Any:
                if value is None:
                    return None
                text = dumps_jsonable(value)
                if "\\u0000" in text:  # a NUL, which JSONB refuses (or a text that reads so)
                    return dumps_plain(without_nul(whole_text(jsonable(value))))
                return text

            return json_text_pg
        if custom is None:

            def json_text(value: Any) -> Any:
                return None if value is None else dumps_jsonable(value)

            return json_text
        pg = name == "postgresql"

        def json_text_custom(value: Any) -> Any:
            if value is None:
                return None
            out = jsonable(value)
            return custom(without_nul(out) if pg else out)

        return json_text_custom
    return proc
