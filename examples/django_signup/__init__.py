"""A minimal Django project whose signups reach SendX through sendx-worker.

``signals.py`` is the recipe (docs/recipes/django.md): a ``post_save`` handler
that enqueues ``identify()`` with ``transaction.on_commit``, so a signup that is
rolled back never reaches SendX. ``views.py`` is a signup view that may roll back.
Run it with ``DJANGO_SETTINGS_MODULE=examples.django_signup.settings``.
"""
