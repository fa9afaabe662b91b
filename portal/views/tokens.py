"""API tokens: people manage their own; admins issue machine tokens and revoke any."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.forms import TokenCreateForm, add_service_errors
from portal.models import ApiToken, TokenKind
from portal.permissions import Action, can_add, get_restricted_object_or_404, is_read_only, restrict
from portal.policies import may_issue_tokens_for_others
from portal.services import api_token_create, api_token_revoke


@never_cache
@login_required
def token_list(request):
    is_admin = may_issue_tokens_for_others(request.user)
    if not can_add(request.user, ApiToken):
        raise PermissionDenied("Your roles do not allow API tokens.")
    read_only = is_read_only(request.user)
    form = TokenCreateForm(request.POST or None, allow_machine=is_admin, read_only=read_only)
    new_key = None
    if request.method == "POST" and form.is_valid():
        owner = request.user
        username = form.cleaned_data.get("username")
        if username:
            owner = get_user_model().objects.filter(username=username, is_active=True).first()
            if owner is None:
                form.add_error("username", f"No active account named “{username}”.")
        if not form.errors:
            try:
                token, new_key = api_token_create(
                    user=owner,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    kind=form.cleaned_data.get("kind", TokenKind.PERSONAL),
                    expires_at=form.expires_at(),
                    created_by=request.user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, f"Token “{token.name}” created. Copy it now: it will not be shown again."
                )
                form = TokenCreateForm(allow_machine=is_admin, read_only=read_only)
    tokens = restrict(ApiToken.objects.all(), request.user).select_related("user")
    if not (is_admin and request.GET.get("all")):
        tokens = tokens.filter(user=request.user) | tokens.filter(created_by=request.user)
    return render(
        request,
        "portal/tokens.html",
        {"form": form, "tokens": tokens.distinct(), "new_key": new_key, "is_admin": is_admin},
    )


@require_POST
@login_required
def token_revoke(request, pk: int):
    token = get_restricted_object_or_404(ApiToken.objects.all(), request.user, Action.DELETE, pk=pk)
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("portal:tokens")
