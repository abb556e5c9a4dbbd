"""Django admin for platform operators (superusers); it works across tenants on purpose."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from portal.models import Alert, AuditEvent, Invitation, Membership, Tenant, User


class CappedCountPaginator(Paginator):
    """Counts a list up to ``CAP`` rows and no further: the admin's pager needs a count, and
    counting a million-row call log on every page costs more than the page. Past the cap the
    list shows ``CAP`` rows' worth of pages; a filter or search narrows it."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        assert isinstance(rows, QuerySet)  # an admin changelist pages a queryset
        return rows.order_by()[: self.CAP].count()


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist over a table that grows with every company: no full count, a capped one.

    Subclasses name ``list_select_related`` for what ``list_display`` shows, an ``ordering``
    an index serves, and keep ``sortable_by`` to such columns.
    """

    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100


class ReadOnlyAdmin(LargeTableAdmin):
    """A record operators look at: it changes only through the portal and its tasks, where
    every change is versioned or audited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "timezone", "language", "created_at"]
    search_fields = ["name", "code"]
    readonly_fields = ["code", "created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "language", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["email"]
    exclude = ["token_hash"]
    readonly_fields = ["accepted_at", "revoked_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(LargeTableAdmin):
    list_display = ["created_at", "tenant", "actor_label", "action", "object_repr", "ip_address"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["actor_label", "object_repr", "object_code"]
    ordering = ["-id"]  # the primary key's index: every company's events, newest first
    sortable_by = ["created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(LargeTableAdmin):
    list_display = [
        "created_at",
        "tenant",
        "kind",
        "number",
        "email_status",
        "acknowledged_at",
    ]
    list_filter = ["kind", "email_status", "tenant"]
    list_select_related = ["tenant"]
    ordering = ["-id"]  # the primary key's index: every company's alerts, newest first
    sortable_by = ["created_at"]
    readonly_fields = [field.name for field in Alert._meta.fields]

    @admin.display(description=_("number"))
    def number(self, alert: Alert) -> str:
        return alert.context.get("number", "")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
