"""Billing dimensions: the repeating values of a normalised batch as integer ids (issue 13).

:class:`DimensionMapper` turns the text columns of a :data:`costs.ingest.batch.NORMALIZED` batch
into the ids a narrow line item keeps (profile, region, SKU, charge), adding the values it has
not seen to the dimension tables. Work is per distinct value, never per row: each column is
dictionary-encoded by Arrow, combinations are made dense with numpy, and only the distinct
values missing from the mapper's cache reach the database, in one insert and one select per
dimension. Tag sets are parsed and normalised once per distinct tag text.

Several workers may load files of one delivery at the same time: new values are inserted with
``ON CONFLICT DO NOTHING`` and read back, so two workers adding the same value both get its one id.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connections, router

from costs.ingest.normalize import normalized_tags_checked, tags_from_pairs_text
from costs.models import (
    BillingAccount,
    BillingCharge,
    BillingProfile,
    BillingRegion,
    BillingResource,
    BillingService,
    BillingSku,
    BillingTagSet,
)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _encoded(column: pa.ChunkedArray | pa.Array) -> tuple[list, np.ndarray]:
    """(distinct values, index of each row's value) of one column."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _combined(codes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct combinations of several per-row codes: (distinct rows as a 2-D array of codes,
    index of each row's combination). Kept dense after every column, so nothing overflows."""
    combined = codes[0]
    for code in codes[1:]:
        _, combined = np.unique(combined, return_inverse=True)
        combined = combined.astype(np.int64) * (int(code.max(initial=0)) + 1) + code
    distinct, inverse = np.unique(combined, return_inverse=True)
    inverse = inverse.reshape(-1)
    # Any row of a combination gives back its codes.
    first = np.zeros(len(distinct), dtype=np.int64)
    first[inverse] = np.arange(len(inverse))
    return np.stack([code[first] for code in codes], axis=1), inverse.astype(np.int64)


@dataclass
class TagSetSeen:
    """What the tag sets of a load did that its import's warnings report."""

    collisions: list[tuple[str, str, str]]  # (normalised key, kept raw key, dropped raw key)
    rows: int = 0
    first_row: int = 0


@dataclass
class MappedBatch:
    profile_id: np.ndarray
    region_id: np.ndarray
    sku_id: np.ndarray
    charge_id: np.ndarray
    # tag text → collisions, rows and first row in this batch (only tag sets with collisions)
    tag_collisions: dict[str, TagSetSeen] = field(default_factory=dict)


class _Dimension:
    """One dimension table: natural key (a tuple of text or ids) → id, cached."""

    def __init__(self, model, key_fields: tuple[str, ...], *, digest_of=None):
        self.model = model
        self.key_fields = key_fields
        self.digest_of = digest_of  # key → digest, for tables unique on a digest
        self.ids: dict[tuple, int] = {}

    def ids_for(self, keys: list[tuple], extra=None) -> np.ndarray:
        missing = [key for key in dict.fromkeys(keys) if key not in self.ids]
        if missing:
            self._add(missing, extra or {})
        return np.fromiter((self.ids[key] for key in keys), dtype=np.int32, count=len(keys))

    def _add(self, keys: list[tuple], extra: dict) -> None:
        rows = []
        for key in keys:
            values = dict(zip(self.key_fields, key, strict=True))
            if self.digest_of is not None:
                values["digest"] = self.digest_of(key)
            values.update(extra.get(key, {}))
            rows.append(values)
        if connections[router.db_for_write(self.model)].vendor == "postgresql":
            self._add_postgresql(keys, rows)
        else:
            self._add_with_orm(keys, rows)

    def _add_postgresql(self, keys: list[tuple], rows: list[dict]) -> None:
        """The ids of values this load has not met yet, as arrays in three statements whatever their
        number: a SELECT of those that exist, one INSERT … ON CONFLICT DO NOTHING of the others,
        and a SELECT of their ids (this worker's, or another's that inserted the same value)."""
        connection = connections[router.db_for_write(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        names = list(rows[0])
        fields = {name: self.model._meta.get_field(name) for name in names}

        def sql_type(name: str) -> str:
            field = fields[name]
            if field.get_internal_type() == "JSONField":
                return "jsonb"
            if field.is_relation or field.get_internal_type() in ("AutoField", "IntegerField"):
                return "integer"
            return "text"

        columns = [fields[name].column for name in names]
        arrays = [
            [json.dumps(row[name]) if sql_type(name) == "jsonb" else row[name] for row in rows]
            for name in names
        ]
        match = ["digest"] if self.digest_of is not None else list(self.key_fields)
        match_columns = [fields[name].column for name in match]

        def find(positions: list[int]) -> list[int]:
            """Store the ids of the values at ``positions`` that exist; return those that do not."""
            cursor.execute(
                f"SELECT k.position, d.id FROM unnest({', '.join(f'%s::{sql_type(name)}[]' for name in match)}) "
                f"WITH ORDINALITY AS k({', '.join(match_columns)}, position) "
                f"JOIN {table} d ON " + " AND ".join(f"d.{column} = k.{column}" for column in match_columns),
                [[arrays[names.index(name)][index] for index in positions] for name in match],
            )
            found = set()
            for position, pk in cursor.fetchall():
                index = positions[position - 1]
                self.ids[keys[index]] = pk
                found.add(index)
            return [index for index in positions if index not in found]

        with connection.cursor() as cursor:
            # Most values of a restated or later month exist already: look before inserting.
            new = find(list(range(len(keys))))
            if not new:
                return
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest("
                + ", ".join(f"%s::{sql_type(name)}[]" for name in names)
                + ") ON CONFLICT DO NOTHING",
                [[column[index] for index in new] for column in arrays],
            )
            find(new)  # inserted now, by this worker or (a conflict) by another

    def _add_with_orm(self, keys: list[tuple], rows: list[dict]) -> None:
        self.model.objects.bulk_create(
            [self.model(**row) for row in rows], ignore_conflicts=True, batch_size=2000
        )
        # Read back what this worker or another one stored.
        for start in range(0, len(keys), 2000):
            chunk = keys[start : start + 2000]
            if self.digest_of is not None:
                by_digest = {self.digest_of(key): key for key in chunk}
                found = self.model.objects.filter(digest__in=list(by_digest)).values_list("digest", "pk")
                self.ids.update((by_digest[value], pk) for value, pk in found)
            else:
                first = self.key_fields[0]
                wanted = set(chunk)
                found = self.model.objects.filter(**{f"{first}__in": {key[0] for key in chunk}}).values_list(
                    *self.key_fields, "pk"
                )
                for *values, pk in found:
                    if tuple(values) in wanted:
                        self.ids[tuple(values)] = pk


class DimensionMapper:
    """Maps normalised batches to dimension ids; one per load (its caches live as long)."""

    def __init__(self):
        self.accounts = _Dimension(BillingAccount, ("billing_account_id", "sub_account_id"))
        self.services = _Dimension(BillingService, ("provider", "service_name", "service_category"))
        self.resources = _Dimension(BillingResource, ("resource_id",), digest_of=lambda key: digest(key[0]))
        self.regions = _Dimension(BillingRegion, ("region",))
        self.skus = _Dimension(BillingSku, ("sku_id",))
        self.charges = _Dimension(
            BillingCharge, ("charge_category", "charge_class", "provider_charge_type", "usage_unit")
        )
        self.tag_sets = _Dimension(BillingTagSet, ("digest",))
        self.profiles = _Dimension(BillingProfile, ("resource_id", "account_id", "service_id", "tag_set_id"))
        self.tag_collisions: dict[str, list] = {}  # tag text → its collisions (empty list: none)

    def _dimension_ids(self, dimension: _Dimension, batch: pa.RecordBatch, columns: tuple[str, ...]):
        """(ids of each row, code of each row's distinct combination)."""
        encoded = [_encoded(batch.column(name)) for name in columns]
        if len(encoded) == 1:
            values, index = encoded[0]
            return dimension.ids_for([(value,) for value in values])[index], index
        distinct, inverse = _combined([index for _values, index in encoded])
        keys = [tuple(encoded[i][0][code] for i, code in enumerate(row)) for row in distinct.tolist()]
        return dimension.ids_for(keys)[inverse], inverse

    def _tag_set_ids(self, batch: pa.RecordBatch) -> tuple[np.ndarray, dict[str, TagSetSeen]]:
        texts, index = _encoded(batch.column("tags"))
        digests = [digest(text) for text in texts]
        extra = {}
        for text, key in zip(texts, digests, strict=True):
            if text in self.tag_collisions:
                continue
            tags = tags_from_pairs_text(text)
            normalized, collisions = normalized_tags_checked(tags)
            self.tag_collisions[text] = collisions
            extra[(key,)] = {"tags": dict(tags), "tags_normalized": normalized}
        ids = self.tag_sets.ids_for([(key,) for key in digests], extra)
        seen = {}
        colliding = [number for number, text in enumerate(texts) if self.tag_collisions[text]]
        if colliding:
            counts = np.bincount(index, minlength=len(texts))
            rows = batch.column("row").to_numpy()
            for number in colliding:
                text = texts[number]
                seen[text] = TagSetSeen(
                    collisions=self.tag_collisions[text],
                    rows=int(counts[number]),
                    first_row=int(rows[np.argmax(index == number)]),
                )
        return ids[index], seen

    def map(self, batch: pa.RecordBatch) -> MappedBatch:
        accounts, _ = self._dimension_ids(self.accounts, batch, ("billing_account_id", "sub_account_id"))
        services, _ = self._dimension_ids(
            self.services, batch, ("provider", "service_name", "service_category")
        )
        resources, _ = self._dimension_ids(self.resources, batch, ("resource_id",))
        tag_sets, collisions = self._tag_set_ids(batch)
        distinct, inverse = _combined([resources, accounts, services, tag_sets])
        profile_ids = self.profiles.ids_for([tuple(row) for row in distinct.tolist()])[inverse]
        regions, _ = self._dimension_ids(self.regions, batch, ("region",))
        skus, _ = self._dimension_ids(self.skus, batch, ("sku_id",))
        charges, _ = self._dimension_ids(
            self.charges, batch, ("charge_category", "charge_class", "provider_charge_type", "usage_unit")
        )
        return MappedBatch(
            profile_id=profile_ids,
            region_id=regions,
            sku_id=skus,
            charge_id=charges,
            tag_collisions=collisions,
        )
