"""Background jobs: the Huey queue that builds editions, the lease that proves a job alive, recovery.

Conversions never run in the web process. Huey carries the work; the edition's own row in the catalogue (its
status and lease) is the truth about it, because Huey does not redeliver a task whose worker was killed.
"""
