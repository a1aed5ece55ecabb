"""The read-only web view of the ledger (``ledger serve``; docs/WEB.md).

:mod:`ledger.web.app` builds the ASGI application (Starlette, server-rendered
Jinja2 templates, no JavaScript): search, a platform's timeline and state, its
funds as an inline SVG chart, units, the debarred and blacklisted on a date,
and the chain's verification state. It reads through :mod:`ledger.reads` with a
read-only :class:`~ledger.store.db.DbConfig` and never imports the write side.
:mod:`ledger.web.chart` lays out the funds chart.
"""
