"""The one permission choke point.

Every queryset that reaches a person — list, detail, edit, API, export, search, chart, form
choice field — passes through :func:`restrict`. Each app declares the policy for each of its
models in its own ``policies.py`` (``@policy("inventory.usecase")``), imported from its
``AppConfig.ready()``; this module holds only the registry and the functions that consult it.
Unknown models fail closed: restricting a model without a policy is an error.

The policy, in words (DESIGN.md §1):

* executives and auditors view everything, restricted items included;
* team members view every team's normal items (openness prevents duplicate work) but
  restricted items only of their own team, and change only their own team's items;
* CoE reviewers view everything and decide gates; the CoE lead maintains the lifecycle;
* auditors never write anything, whatever other role they hold;
* admins configure (sources, roles, teams, schedules) and may do everything.

Object-level grants are django-guardian permissions: a team's group holds the permissions on
the objects the team owns, and a team lead holds ``change_team`` on their team. Objects a
person may not see answer 404 (:func:`get_restricted_object_or_404`); objects they can see but
not act on answer 403. Missing and forbidden look the same.
"""

from collections.abc import Callable

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import BigIntegerField, Model, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission

from portal.roles import Role, has_role


class Action:
    VIEW = "view"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"

    ALL = (VIEW, ADD, CHANGE, DELETE)
    WRITES = (ADD, CHANGE, DELETE)


Policy = Callable[[QuerySet, object, str], QuerySet]
_POLICIES: dict[str, Policy] = {}
_ADD_RULES: dict[str, Callable[[object], bool]] = {}

# What people manage for themselves, whatever their roles: read-only people (auditors) too.
SELF_SERVICE_MODELS = frozenset({"portal.apitoken"})


def policy(model_label: str, *, add: Callable[[object], bool] | None = None) -> Callable[[Policy], Policy]:
    """Declare who may do what on ``model_label``; ``add`` says who may create one."""

    def register(function: Policy) -> Policy:
        _POLICIES[model_label.lower()] = function
        _ADD_RULES[model_label.lower()] = add or (lambda user: False)
        return function

    return register


def is_usable(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def is_read_only(user) -> bool:
    """Auditors never write, whatever else they are."""
    return has_role(user, Role.AUDITOR)


def restrict(queryset: QuerySet, user, action: str = Action.VIEW) -> QuerySet:
    """Narrow ``queryset`` to the objects ``user`` may perform ``action`` on."""
    if action not in Action.ALL and not action.startswith("custom:"):
        raise ValueError(f"Unknown action {action!r}")
    if not is_usable(user):
        return queryset.none()
    label = queryset.model._meta.label_lower
    try:
        model_policy = _POLICIES[label]
    except KeyError:
        raise ImproperlyConfigured(
            f"No access policy is declared for {label} (see the app's policies.py)"
        ) from None
    if action != Action.VIEW and is_read_only(user) and label not in SELF_SERVICE_MODELS:
        return queryset.none()
    return model_policy(queryset, user, action)


def can(user, action: str, obj: Model) -> bool:
    """Whether ``user`` may perform ``action`` on this one object (asked of the database)."""
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action).exists()


def can_add(user, model: type[Model]) -> bool:
    """Whether ``user`` may create objects of ``model`` (there is no object to ask about yet)."""
    label = model._meta.label_lower
    if not is_usable(user) or (is_read_only(user) and label not in SELF_SERVICE_MODELS):
        return False
    if label not in _ADD_RULES:
        raise ImproperlyConfigured(f"No access policy is declared for {label} (see the app's policies.py)")
    return bool(_ADD_RULES[label](user))


def get_restricted_object_or_404(queryset: QuerySet, user, action: str = Action.VIEW, **lookup) -> Model:
    """The object if the user may see it (else 404) and may perform ``action`` on it (else 403)."""
    obj = restrict(queryset, user, Action.VIEW).filter(**lookup).first()
    if obj is None:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.")
    if action != Action.VIEW and not restrict(queryset, user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(
            f"You may not {action.removeprefix('custom:')} this {queryset.model._meta.verbose_name}."
        )
    return obj


def restrict_form_fields(form, user) -> None:
    """Form choice fields offer only what the person may see."""
    for form_field in form.fields.values():
        queryset = getattr(form_field, "queryset", None)
        if queryset is not None and queryset.model._meta.label_lower in _POLICIES:
            form_field.queryset = restrict(queryset, user, Action.VIEW)


def object_permission_condition(model: type[Model], user, codename: str) -> Q:
    """A condition matching objects on which ``user`` (directly or through a group) holds a
    guardian permission, to combine with other conditions in one flat WHERE clause.

    Guardian's own ``get_objects_for_user`` compares ``id::varchar`` with the text
    ``object_pk`` for every row of the table (48 of 57 ms at 5,000 use cases, see
    docs/benchmarks.md); casting the few grant rows to the integer key instead lets PostgreSQL
    use the primary key. Every model here has an integer primary key.
    """

    content_type = ContentType.objects.get_for_model(model)
    grant = {
        "content_type": content_type,
        "permission__content_type": content_type,
        "permission__codename": codename,
    }
    object_id = Cast("object_pk", output_field=BigIntegerField())
    by_user = UserObjectPermission.objects.filter(user=user, **grant).values(object_id=object_id)
    by_group = GroupObjectPermission.objects.filter(group__user=user, **grant).values(object_id=object_id)
    return Q(pk__in=by_user) | Q(pk__in=by_group)


def with_object_permission(queryset: QuerySet, user, codename: str) -> QuerySet:
    """Objects on which ``user`` (directly or through a group) holds a guardian permission."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(object_permission_condition(queryset.model, user, codename))


def registered_labels() -> frozenset[str]:
    """The models (``app_label.modelname``) that have a declared policy."""
    return frozenset(_POLICIES)
