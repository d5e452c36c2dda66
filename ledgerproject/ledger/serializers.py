"""Serializer bases: every entry carries its `ledger` block; server-owned fields are refused."""

import copy

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from ledgerproject.ledger.tenancy import writer_tenant

SERVER_OWNED = ("ledger", "seq", "recorded_at", "recorded_by", "prev_entry_hash", "entry_hash", "canonical")


class LedgerBlockSerializer(serializers.Serializer):
    """The kernel's `ledger` block on every entry (read-only; documented as an object in OpenAPI)."""

    seq = serializers.IntegerField(read_only=True)
    recorded_at = serializers.CharField(read_only=True, help_text="trusted server time, ISO 8601 UTC")
    recorded_by = serializers.CharField(read_only=True, help_text="the principal that appended the entry")
    prev_entry_hash = serializers.CharField(read_only=True)
    entry_hash = serializers.CharField(read_only=True)


class LedgerListSerializer(serializers.ListSerializer):
    """A batch: validated item by item, then appended atomically with one lock."""

    def to_internal_value(self, data):
        self._item_index = -1
        return super().to_internal_value(data)

    def run_child_validation(self, data):
        # DRF validates the items in order, one call each: the count is the item's index.
        self._item_index += 1
        try:
            return super().run_child_validation(data)
        except NotFound as exc:
            # Still a 404 (tenancy never says 403, nor shows the other tenant), naming the item.
            raise NotFound(f"item {self._item_index}: {exc.detail}") from None

    def create(self, validated_data):
        model = self.child.Meta.model
        rows = [self.child.to_append_fields(item) for item in validated_data]
        return model.objects.append_many(rows, recorded_by=self.child.principal())


class LedgerSerializer(serializers.ModelSerializer):
    """Base for every ledger's serializer.

    Subclasses list the seed's fields plus "ledger" in Meta.fields, and may override
    to_append_fields() to turn validated data into model fields. Creating appends.
    """

    ledger = LedgerBlockSerializer(source="ledger_block", read_only=True)

    class Meta:
        list_serializer_class = LedgerListSerializer

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Batches of every ledger serializer append atomically, whatever Meta the subclass declares.
        meta = cls.__dict__.get("Meta")
        if meta is not None and not hasattr(meta, "list_serializer_class"):
            meta.list_serializer_class = LedgerListSerializer

    def get_fields(self):
        # ModelSerializer rebuilds every field from the model on each instance (once per request);
        # it depends only on the class, so build it once per class and hand each instance a copy,
        # as DRF does for a plain Serializer's declared fields.
        cls = type(self)
        built = cls.__dict__.get("_ledger_built_fields")
        if built is None:
            built = super().get_fields()
            cls._ledger_built_fields = built
        fields = copy.deepcopy(built)
        # A repeated natural key is not a 400: the append path answers 409 with the stored entry.
        # (Filtered on every copy: a field's deepcopy is rebuilt from its constructor arguments.)
        for field in fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
        return fields

    def get_validators(self):
        return [v for v in super().get_validators() if not isinstance(v, UniqueTogetherValidator)]

    def server_owned_fields(self):
        writable = {name for name, field in self.fields.items() if not field.read_only}
        return [name for name in SERVER_OWNED if name not in writable]

    def to_internal_value(self, data):
        if isinstance(data, dict):
            sent = [name for name in self.server_owned_fields() if name in data]
            if sent:
                raise serializers.ValidationError(
                    {name: ["This field is set by the server and cannot be sent."] for name in sent}
                )
        return super().to_internal_value(data)

    # Where the client names the tenant in its JSON, for error messages (e.g. "event.tenant_id").
    tenant_path = "tenant_id"

    def validate(self, attrs):
        attrs = super().validate(attrs)
        field = self.Meta.model.tenant_field
        if field and "__" not in field:
            # The entry's own tenant column: the writer's tenant (a parent's tenant is inherited
            # from the parent, which the view found through visible_to()).
            tenant = writer_tenant(self.principal(), attrs.get(field), self.tenant_path)
            if tenant is not None or field in attrs:
                attrs[field] = tenant
        return attrs

    def principal(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def to_append_fields(self, validated_data):
        """Model field values for the append path (override to reshape seed JSON into columns)."""
        return dict(validated_data)

    def create(self, validated_data):
        return self.Meta.model.objects.append(recorded_by=self.principal(), **self.to_append_fields(validated_data))

    def update(self, instance, validated_data):
        raise NotImplementedError("ledger entries are never updated")
