"""sendx-worker: SendX contact updates delivered reliably by Celery workers."""

__version__ = "0.1.0"
