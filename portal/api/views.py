"""Base viewsets: every API list and object goes through portal.permissions.restrict."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework import exceptions, viewsets

from portal.permissions import Action, can_add, restrict

HTTP_ACTIONS = {
    "GET": Action.VIEW,
    "HEAD": Action.VIEW,
    "OPTIONS": Action.VIEW,
    "POST": Action.ADD,
    "PUT": Action.CHANGE,
    "PATCH": Action.CHANGE,
    "DELETE": Action.DELETE,
}


class RestrictedViewSetMixin:
    """Lists show only what the person may see; objects they may not see are 404, writes they
    may not make are 403. Custom actions name their permission with ``permission_action``."""

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, Action.VIEW)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Permission before validation: DRF's create() validates the payload before
        # perform_create() runs, so someone who may not add at all would learn what was wrong
        # with their data (400) instead of being refused (403): one act, one answer.
        if self.action == "create":
            self.check_add_permission()

    def required_action(self) -> str:
        action_function = getattr(self, self.action, None) if self.action else None
        custom = getattr(action_function, "permission_action", None)
        return custom or HTTP_ACTIONS.get(self.request.method, Action.CHANGE)

    def get_object(self):
        obj = super().get_object()  # 404 unless visible
        action = self.required_action()
        if action != Action.VIEW:
            allowed = restrict(type(obj)._default_manager.filter(pk=obj.pk), self.request.user, action)
            if not allowed.exists():
                raise exceptions.PermissionDenied(
                    f"You may not {action.removeprefix('custom:')} this object."
                )
        return obj

    def check_add_permission(self) -> None:
        if not can_add(self.request.user, self.get_queryset().model):
            raise exceptions.PermissionDenied("You may not add objects of this kind.")

    def perform_create(self, serializer):
        self.check_add_permission()
        try:
            super().perform_create(serializer)
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc


class RestrictedReadOnlyViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class RestrictedModelViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    pass


def permission_action(action: str):
    """Mark a custom @action with the permission it needs, e.g. ``@permission_action("custom:cancel")``."""

    def decorate(function):
        function.permission_action = action
        return function

    return decorate
