"""A local stand-in for the Fivetran REST API that plays a scenario and sends signed webhooks.

It serves the subset of the API the app calls (group connections with cursor pagination,
connection detail, sync trigger, sync history) plus the webhook endpoints the operator CLI
calls, with HTTP Basic auth. Every sync (triggered, resumed after a reschedule, already running
when the run began, or started by Fivetran's own schedule) gets its own ``sync_id``, a
``sync_start`` webhook when it starts and a ``sync_end`` when it ends, signed with the webhook
secret and redelivered on Fivetran's (compressed) schedule while the receiver fails. A successful
sync writes rows into the connection's schema in the DuckDB file (so dbt has real data). Every
timestamp the simulator writes, and every answer's ``Date`` header, is on Fivetran's clock
(``fivetran.clock_offset_s``). It counts API calls by endpoint and webhook delivery attempts by
HTTP status, for the run report. The scenario keys are documented in ``local/README.md``.

Threads, whatever the number of connections: one scheduler (every timed event: sync ends, scheduled
syncs, resumes, mid-run changes, redeliveries), one warehouse writer, and a fixed pool of webhook
senders (``webhooks.DELIVERY_WORKERS``).

- ``simulator``: ``FivetranSimulator``, the account: connections, clocks, what each API call answers;
- ``server``: HTTP routing, auth, call counting, the ``Date`` header;
- ``errors``: ``ApiError`` and Fivetran's error envelope (``error_body``);
- ``records``: connection state and sync history rows, and their timestamps;
- ``playback``: how each sync begins and ends on the clock;
- ``scheduler``: the one timer thread;
- ``webhooks``: signed deliveries, webhook faults and redelivery; ``registrations``: group webhooks;
- ``writer``: the warehouse writer thread; ``seeding``: the historical load before the run.
"""

from __future__ import annotations

from local.fivetran_sim.errors import ApiError, error_body
from local.fivetran_sim.simulator import FivetranSimulator

__all__ = ["ApiError", "FivetranSimulator", "error_body"]
