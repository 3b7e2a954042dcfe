"""The analysis pipeline, run by the embedded runner or by a Celery worker."""
