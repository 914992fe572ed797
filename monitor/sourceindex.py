"""An immutable name -> SourceData mapping whose "copy with one entry replaced" costs
O(sqrt n)-ish instead of O(n).

Each publish must produce a new immutable snapshot. Copying a flat dict of every source is
O(sources) (about 55 µs at 5,000 sources); here sources live in buckets of at most
BUCKET_SIZE, so a publish copies one bucket and the tuple of bucket references.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TypeVar

V = TypeVar("V")
BUCKET_SIZE = 64


class SourceIndex(Mapping[str, V]):
    __slots__ = ("_buckets", "_where")

    def __init__(
        self, where: Mapping[str, int] | None = None, buckets: tuple[Mapping[str, V], ...] = ()
    ) -> None:
        self._where: Mapping[str, int] = where if where is not None else MappingProxyType({})
        self._buckets = buckets

    def __getitem__(self, name: str) -> V:
        return self._buckets[self._where[name]][name]

    def __contains__(self, name: object) -> bool:
        return name in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __repr__(self) -> str:
        return f"SourceIndex({dict(self.items())!r})"

    def replace(self, name: str, value: V) -> SourceIndex[V]:
        """A new index with `name` set to `value`; this one is left untouched."""
        where = self._where
        if name in where:
            index = where[name]
        else:
            index = self._bucket_with_room()
            where = MappingProxyType({**where, name: index})
        buckets = list(self._buckets)
        if index == len(buckets):
            buckets.append(MappingProxyType({}))
        buckets[index] = MappingProxyType({**buckets[index], name: value})
        return SourceIndex(where, tuple(buckets))

    def without(self, name: str) -> SourceIndex[V]:
        if name not in self._where:
            return self
        index = self._where[name]
        where = MappingProxyType({k: v for k, v in self._where.items() if k != name})
        buckets = list(self._buckets)
        buckets[index] = MappingProxyType({k: v for k, v in buckets[index].items() if k != name})
        return SourceIndex(where, tuple(buckets))

    def ordered(self, names: Iterable[str]) -> SourceIndex[V]:
        """The same entries iterating in the order of `names` (entries it does not name keep
        their order, after those it does): the config's order, which a reload that adds a
        source back or renames one would otherwise leave at the end. O(n), for reloads only."""
        first = {name: None for name in names if name in self._where}
        order = [*first, *(name for name in self._where if name not in first)]
        if order == list(self._where):
            return self
        return SourceIndex(MappingProxyType({name: self._where[name] for name in order}), self._buckets)

    def _bucket_with_room(self) -> int:
        for index, bucket in enumerate(self._buckets):
            if len(bucket) < BUCKET_SIZE:
                return index
        return len(self._buckets)
