"""How stored events are encoded: the transcodings of ``LedgerApp`` and a
mapper that decodes stored events without building the application (the
read side decodes with it; it never opens the write side to read)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoding,
    UUIDAsHex,
)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def event_mapper() -> Mapper[UUID]:
    """The mapper ``LedgerApp`` builds (the library's JSON transcoder with its
    own transcodings and ``DateAsISO``; no cipher, no compressor)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)
