"""arq workers: WorkerSettings in workers/settings.py, one task per module under workers/tasks/."""
