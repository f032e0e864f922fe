"""Worker-side machinery: the consumer, delivery counts, health."""
