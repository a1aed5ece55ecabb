"""The one place where the application translates library and driver errors
into the domain's error hierarchy (:mod:`aggregates.errors`):

- opening the event store: a :class:`PersistenceError` is
  :class:`DatabaseUnavailable`;
- loading an aggregate: eventsourcing's :class:`AggregateNotFoundError` is the
  domain's not-found error for that kind of record (a platform, a unit);
- saving: an :class:`IntegrityError` is a write conflict (another writer
  recorded first; the caller retries), an :class:`OperationalError` is
  :class:`DatabaseUnavailable`.

The CLI maps the domain errors to one line and an exit code; what it still
catches itself (errors that escape every command) is its own last resort."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError

from aggregates.errors import DatabaseUnavailable, LedgerError
from ledger.store.chain import RequestRecord


@contextmanager
def opening_database(db_url: str) -> Iterator[None]:
    """Creating the application: a store that cannot be opened is unavailable."""
    try:
        yield
    except PersistenceError as e:
        raise DatabaseUnavailable(f"cannot open the database at {db_url}: {e}") from None


def get_aggregate(
    app: Application[UUID], ident: UUID, not_found: Callable[[], LedgerError]
) -> Aggregate:
    """The aggregate ``ident``, or the domain error ``not_found()`` if it was never recorded."""
    try:
        agg: Aggregate = app.repository.get(ident)
    except AggregateNotFoundError:
        raise not_found() from None
    return agg


def save_or_conflict(
    app: Application[UUID], aggregates: Sequence[Aggregate], request: RequestRecord | None
) -> IntegrityError | None:
    """Save the aggregates' pending events (and the request id) atomically.
    Returns None when saved, or the write conflict (another writer recorded
    first, or took the same request id) for the caller to resolve or retry."""
    try:
        app.save(*aggregates, request=request)
    except IntegrityError as e:
        return e
    except OperationalError as e:
        raise DatabaseUnavailable(f"the database failed while recording: {e}") from None
    return None


def save_batch_or_conflict(
    app: Application[UUID],
    events: Sequence[DomainEventProtocol[UUID]],
    aggregates: Sequence[Aggregate],
    requests: Sequence[RequestRecord],
) -> IntegrityError | None:
    """Save a batch of imported lines atomically: ``events`` in the order the
    lines recorded them (the aggregates' pending events already collected),
    and every line's request id. None when saved, or the write conflict.

    What ``Application.save`` does, with the events handed over in order
    rather than collected aggregate by aggregate (which would group them by
    aggregate, and checks each object against the library's runtime protocols —
    the most expensive step of a large batch)."""
    processing = ProcessingEvent[UUID]()
    processing.events.extend(events)
    for agg in aggregates:
        processing.aggregates[agg.id] = agg
    processing.saved_kwargs["requests"] = list(requests)
    try:
        recordings = app._record(processing)
    except IntegrityError as e:
        return e
    except OperationalError as e:
        raise DatabaseUnavailable(f"the database failed while recording: {e}") from None
    app._take_snapshots(processing)
    app._notify(recordings)
    return None
