"""Django's model permissions follow Propylon's roles, so the admin site obeys them too."""

from portal.roles import Role, has_role


class RolePermissionBackend:
    """Holders of the admin role have every model-level permission (the Django admin site and
    third-party admin pages such as schedules ask for these). Object-level rights stay with
    portal.permissions and guardian; this backend never answers for an object."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        if obj is not None or not user_obj.is_active or not has_role(user_obj, Role.ADMIN):
            return False
        # Someone who is also an auditor never writes, in the admin site either.
        return not has_role(user_obj, Role.AUDITOR) or perm.partition(".")[2].startswith("view_")

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return user_obj.is_active and has_role(user_obj, Role.ADMIN)
