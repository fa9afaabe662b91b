from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.text import capfirst

from portal import audit
from portal.choices import AuditActionChoices, ChannelChoices
from portal.models import TokenKind, TokenScope
from portal.throttling import describe_wait, login_wait_seconds


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form that asked for the change.

    Services raise every shape Django has: a plain message, a list, or a dict by field. Field
    errors go on the field when the form has it; everything else goes above the form, named
    after the field it is about, so the person knows what to correct."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, messages in exc.message_dict.items():
        if name in form.fields:
            form.add_error(name, messages)
        elif name == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            label = name.replace("_", " ").capitalize()
            form.add_error(None, [f"{label}: {message}" for message in messages])


class AuditFilterForm(forms.Form):
    """Filters of the global audit log; every one of them lives in the query string."""

    q = forms.CharField(required=False, label="Object or message contains")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditActionChoices])
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *ChannelChoices])
    actor = forms.CharField(required=False, label="Actor contains")
    model = forms.ChoiceField(required=False, label="Kind of object")
    object_id = forms.CharField(required=False, label="Object id")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Until (inclusive)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # People pick "Approval comment", not "approvals.approvalcomment"; the query keeps the label.
        kinds = sorted(
            (capfirst(str(model._meta.verbose_name)), model._meta.label_lower) for model in audit._registry
        )
        self.fields["model"].choices = [("", "Any kind"), *((label, name) for name, label in kinds)]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("“Since” must be on or before “until”.")
        return data

    def filter(self, queryset):
        data = self.cleaned_data
        if data.get("q"):
            queryset = queryset.filter(object_repr__icontains=data["q"]) | queryset.filter(
                message__icontains=data["q"]
            )
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        if data.get("channel"):
            queryset = queryset.filter(channel=data["channel"])
        if data.get("actor"):
            queryset = queryset.filter(actor_label__icontains=data["actor"])
        if data.get("model"):
            app_label, model = data["model"].split(".")
            queryset = queryset.filter(content_type=ContentType.objects.get_by_natural_key(app_label, model))
        if data.get("object_id"):
            queryset = queryset.filter(object_id=data["object_id"])
        if data.get("since"):
            queryset = queryset.filter(time__date__gte=data["since"])
        if data.get("until"):
            queryset = queryset.filter(time__date__lte=data["until"])
        return queryset


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that refuses to try a password after too many recent failures."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": ("Too many failed sign-in attempts from this address. Try again in %(wait)s."),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        wait = login_wait_seconds(username=username, request=self.request)
        if wait:
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"wait": describe_wait(wait)}
            )
        return super().clean()


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. “laptop scripts” or “CI callback”."
    )
    scopes = forms.MultipleChoiceField(
        choices=[(v, label) for v, label, _c in TokenScope.CHOICES if v in TokenScope.PERSONAL],
        widget=forms.CheckboxSelectMultiple,
        initial=[TokenScope.READ],
        help_text="Read lets the token fetch data; write lets it change what you may change.",
    )
    expires_in_days = forms.TypedChoiceField(
        coerce=int,
        choices=[(30, "30 days"), (90, "90 days"), (180, "180 days"), (365, "1 year")],
        initial=90,
        label="Expires after",
    )

    def __init__(self, *args, allow_machine: bool = False, read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if read_only:
            # Never offer what will be refused: a read-only person's tokens carry only "read"
            # (portal.services.api_token_create refuses anything more).
            self.fields["scopes"].choices = [(TokenScope.READ, TokenScope.label(TokenScope.READ))]
            scopes = self.fields["scopes"]
            scopes.help_text = "Your roles are read-only: your tokens fetch data and change nothing."
            scopes.error_messages["invalid_choice"] = (
                "Your roles are read-only: tokens carry only the read scope."
            )
        elif allow_machine:
            self.fields["scopes"].choices = list(TokenScope)
            self.fields["kind"] = forms.ChoiceField(
                choices=list(TokenKind),
                initial=TokenKind.PERSONAL,
                help_text="Machine tokens carry ingestion and callback scopes for agents and CI.",
            )
            self.fields["username"] = forms.CharField(
                required=False,
                label="For account",
                help_text="Username of the service account a machine token acts as (blank: yourself).",
            )

    def expires_at(self):
        return timezone.now() + timedelta(days=self.cleaned_data["expires_in_days"])
