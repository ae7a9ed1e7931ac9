"""Jobs: ids in, one service call, safe to run twice. Named after their service plus `_job`.

TASKS maps every task name the outbox defers or the schedule runs to its job's dotted path;
dispatchers and the schedule look jobs up here, so importing this package imports no job.
"""

TASKS = {
    "send_email": "workers.jobs.emails.send_email_job",
    "sweep_outbox": "workers.jobs.maintenance.sweep_outbox_job",
    "forget_old_auth_records": "workers.jobs.maintenance.forget_old_auth_records_job",
}
