"""API tokens: issued keys (stored as SHA-256), and the token lookup compiled once per connection."""

import hashlib
import json
import secrets

from django.conf import settings
from django.db import connections, models
from django.db.models.expressions import RawSQL


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user, name=""):
        """Create a token and return (token, key); only the key's SHA-256 is stored."""
        key = secrets.token_hex(20)
        token = self.create(user=user, name=name, key_hash=hash_token_key(key), key_prefix=key[:8])
        return token, key

    def for_key(self, key):
        """The token of `key` with its user, whose model permissions come back in the same query.

        ModelBackend would otherwise read them with two more queries on the first has_perm() of
        every request. They are read fresh with the token; the API's authenticator remembers the
        result for a few seconds (token_cache.py), so a revoked role or permission takes effect
        within LEDGER_TOKEN_CACHE_SECONDS; superusers keep Django's own path.
        """
        return self.for_key_hash(hash_token_key(key))

    def for_key_hash(self, key_hash):
        """for_key() of the key whose SHA-256 is key_hash."""
        token = self._with_permissions_by_hash(key_hash)
        user = token.user
        if user.is_active and not user.is_superuser:
            # The caches ModelBackend fills on first use (django.contrib.auth.backends._get_permissions).
            user._user_perm_cache = set(json.loads(token.user_perms_json))
            user._group_perm_cache = set(json.loads(token.group_perms_json))
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        return token

    def _with_permissions_by_hash(self, key_hash):
        """get(key_hash=…) of the token, its user and permissions. The SQL is compiled once per
        connection and the rows hydrated as QuerySet.get() would: compiling it every request cost
        more CPU than the database spent answering it."""
        connection = connections[self.db]

        def queryset():
            return self.select_related("user").annotate(**_permission_annotations(connection.vendor))

        if self.query.where or self.query.annotations:  # a narrowed queryset: no shortcut
            return queryset().get(key_hash=key_hash)
        plan = getattr(connection, "_ledger_token_plan", None)
        if plan is None:
            plan = connection._ledger_token_plan = _compiled_get(queryset(), "key_hash", _PLAN_SENTINEL)
        if not plan:
            return queryset().get(key_hash=key_hash)
        sql, compiler, populate = plan
        with connection.cursor() as cursor:
            cursor.execute(sql, [key_hash])
            rows = cursor.fetchall()
        found = [populate(row) for row in compiler.results_iter(results=[rows])]
        if not found:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        if len(found) > 1:  # pragma: no cover - key_hash is unique
            raise self.model.MultipleObjectsReturned(f"get() returned more than one {self.model._meta.object_name}")
        return found[0]


_PLAN_SENTINEL = "ledger-plan-sentinel"


def _compiled_get(queryset, field, sentinel):
    """(sql, compiler, populate) for queryset.get(field=<one parameter>), or False when its SQL
    does not take exactly that one parameter (then callers use the ORM as usual)."""
    from django.db.models.query import get_related_populators

    compiler = queryset.filter(**{field: sentinel})[:21].query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    if list(params) != [sentinel]:
        return False
    db = queryset.db
    select, klass_info, annotation_col_map = compiler.select, compiler.klass_info, compiler.annotation_col_map
    model_cls = klass_info["model"]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    related_populators = get_related_populators(klass_info, select, db)

    def populate(row):
        # What ModelIterable does for each row (Django's own hydration, select_related included).
        obj = model_cls.from_db(db, init_list, row[start:end])
        for related in related_populators:
            related.populate(row, obj)
        for name, position in (annotation_col_map or {}).items():
            setattr(obj, name, row[position])
        return obj

    return sql, compiler, populate


def _permission_annotations(vendor):
    """Two scalar subqueries: the token user's own and its groups' permissions, each as a JSON array
    of "app_label.codename" (a JSON array round-trips any codename; a separator might not)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    user_model = get_user_model()
    user_perms = user_model._meta.get_field("user_permissions").remote_field.through._meta
    user_groups = user_model._meta.get_field("groups").remote_field.through._meta
    group_perms = Group._meta.get_field("permissions").remote_field.through._meta
    token_user = f"{ApiToken._meta.db_table}.user_id"
    permission, content_type = Permission._meta.db_table, ContentType._meta.db_table

    def column(meta, model):
        return meta.get_field(model._meta.model_name).column

    def json_array(ids_sql):
        name = "ct.app_label || '.' || p.codename"
        aggregate = f"COALESCE(json_agg({name})::text, '[]')" if vendor == "postgresql" else f"json_group_array({name})"
        return RawSQL(
            f"SELECT {aggregate} FROM {permission} p JOIN {content_type} ct ON ct.id = p.content_type_id "
            f"WHERE p.id IN ({ids_sql})",
            [],
            output_field=models.TextField(),
        )

    own = (
        f"SELECT up.{column(user_perms, Permission)} FROM {user_perms.db_table} up "
        f"WHERE up.{column(user_perms, user_model)} = {token_user}"
    )
    via_groups = (
        f"SELECT gp.{column(group_perms, Permission)} FROM {group_perms.db_table} gp "
        f"JOIN {user_groups.db_table} ug ON ug.{column(user_groups, Group)} = gp.{column(group_perms, Group)} "
        f"WHERE ug.{column(user_groups, user_model)} = {token_user}"
    )
    return {"user_perms_json": json_array(own), "group_perms_json": json_array(via_groups)}


def hash_token_key(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """An API key for `Authorization: Token <key>`; the key itself is shown once, never stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self):
        return f"{self.key_prefix}… ({self.user})"
