"""Flow control toward SendX: a fleet-wide circuit breaker per team, an adaptive concurrency, a rate.

- :mod:`.circuit`: the breaker's rules as pure functions (when it opens, how long, what a probe does);
- :mod:`.breaker`: those rules applied atomically in the state store, shared by every process;
- :mod:`.concurrency.aimd`: additive-increase / multiplicative-decrease of the calls in flight;
- :mod:`.gate`: one process's admission of calls (hold, probe, or defer), and what it learns from each call;
- :mod:`.settings`: ``SENDX_FLOW_CONTROL``, ``SENDX_BREAKER_*``, ``SENDX_HOLD_S``,
  ``SENDX_MAX_CONCURRENCY``, ``SENDX_RATE_LIMIT``.

Nothing here imports Celery: :mod:`sendx_worker.tasks.flowed` is the glue.
"""
