"""Jobs: ids in, one service call, safe to run twice. Named after their service plus `_job`.

TASKS maps every task name the outbox defers or the schedule runs to its job's dotted path;
dispatchers and the schedule look jobs up here, so importing this package imports no job.

COALESCED maps a task whose work the database lists (each dispatch names one row) to the drain
job that processes every such row: a queueing dispatcher wakes the drain instead of enqueueing
one job per row (workers/dispatch.py); the in-process dispatcher still runs the task itself.
"""

TASKS = {
    "send_email": "workers.jobs.emails.send_email_job",
    "sweep_outbox": "workers.jobs.maintenance.sweep_outbox_job",
    "forget_old_auth_records": "workers.jobs.maintenance.forget_old_auth_records_job",
    "charge_payment": "workers.jobs.payments.charge_payment_job",
    "reconcile_payment": "workers.jobs.payments.reconcile_payment_job",
    "process_webhook_event": "workers.jobs.payments.process_webhook_event_job",
    # The same job, never coalesced: a retry of one event after a retryable failure.
    "retry_webhook_event": "workers.jobs.payments.process_webhook_event_job",
    "drain_webhook_events": "workers.jobs.payments.drain_webhook_events_job",
    "sweep_payments": "workers.jobs.payments.sweep_payments_job",
    "reconcile_refund": "workers.jobs.refunds.reconcile_refund_job",
    "sweep_refunds": "workers.jobs.refunds.sweep_refunds_job",
    "void_unpaid_widget_invoices": "workers.jobs.widgets.void_unpaid_widget_invoices_job",
    "convert_quote": "workers.jobs.quotes.convert_quote_job",
    "sweep_quotes": "workers.jobs.quotes.sweep_quotes_job",
}

COALESCED = {
    "process_webhook_event": "drain_webhook_events",
}
