"""URLs of the example project."""

from __future__ import annotations

from django.urls import path, re_path

from .console import sendx_console
from .views import signup

urlpatterns = [
    path("signup", signup, name="signup"),
    re_path(r"^ops/sendx(?P<path>/.*)?$", sendx_console, name="sendx-console"),
]
