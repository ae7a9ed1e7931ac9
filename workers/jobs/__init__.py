"""Jobs: ids in, one service call, safe to run twice. TASKS names every job the outbox defers."""

TASKS = {
    "send_email": "workers.jobs.emails.send_email_job",
}
