"""Per-model state shared by every check on one model (torch-free)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

V = TypeVar("V")
P = TypeVar("P", bound="PerModel")


class PerModel:
    """
    Base for state that exists once per model and is shared by every check on it (the metric cache,
    the gradient hooks). Kept in a per-class ``WeakKeyDictionary``: it goes away with the model.
    Subclasses are built with no arguments.
    """

    _by_model: weakref.WeakKeyDictionary[Any, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_model = weakref.WeakKeyDictionary()

    @classmethod
    def for_model(cls: type[P], model: Any) -> P:
        """
        :param model: an SB3 algorithm
        :return: the instance shared by every check on that model
        """
        found = cls._by_model.get(model)
        if found is None:
            found = cls._by_model[model] = cls()
        return found  # type: ignore[no-any-return]


class MetricCache(PerModel):
    """
    Measurements of the current update, shared by every check on one model.

    Values are keyed by ``(step, name)``; entries of older steps are dropped when a new step
    begins. ``state`` keeps small per-model bookkeeping between updates (e.g. the last
    ``_n_updates`` seen).
    """

    def __init__(self) -> None:
        self._step: int | None = None
        self._values: dict[str, Any] = {}
        self.state: dict[str, Any] = {}

    def get(self, step: int, name: str, compute: Callable[[], V]) -> V:
        """
        Return the value of ``name`` at ``step``, computing it once.

        :param step: ``num_timesteps``
        :param name: measurement name
        :param compute: called on the first request at this step
        :return: the (cached) value
        """
        if step != self._step:
            self._step, self._values = step, {}
        if name not in self._values:
            self._values[name] = compute()
        return self._values[name]  # type: ignore[no-any-return]
