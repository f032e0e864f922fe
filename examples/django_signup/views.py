"""A signup view whose transaction may roll back after the user row is written."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

PLANS = {"free", "pro"}


class SignupFailed(Exception):
    """Raised inside the transaction to roll the whole signup back."""


@require_POST
def signup(request: HttpRequest) -> HttpResponse:
    """Create the user and its plan in one transaction; 201, or 400 with nothing saved."""
    email = request.POST.get("email", "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return JsonResponse({"errors": {"email": ["Enter a valid email address."]}}, status=400)
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=email, email=email, first_name=request.POST.get("first_name", "")
            )
            # The user row exists (and post_save has fired) before this check fails:
            # the rollback must take the SendX update with it.
            if request.POST.get("plan") not in PLANS:
                raise SignupFailed("unknown plan")
    except SignupFailed as exc:
        return JsonResponse({"errors": {"plan": [str(exc)]}}, status=400)
    return JsonResponse({"id": user.pk}, status=201)
