"""One named-backend registry, shared by the captioners and the planner LLMs.

Why one helper: both layers need the same three guarantees, and two hand-written copies had
already drifted (one error message listed only built-ins, the other also plug-ins):

- a name registered twice by two *different* factories is an error, so two modules can never
  silently shadow each other (re-registering the same factory, e.g. on a module reload, is fine);
- built-in backends are imported only when first asked for, so ``import videonav`` never pulls
  torch, vLLM or an HTTP stack;
- an unknown name fails with one line that names the config key and the choices.

>>> reg: Registry[int] = Registry("planner.backend", {})
>>> _ = reg.register("one")(lambda cfg: 1)
>>> reg.make("one", None)
1
>>> reg.make("two", None)
Traceback (most recent call last):
...
videonav.tools.registry.UnknownBackend: planner.backend='two' unknown; choose one of ['one']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class UnknownBackend(ValueError):
    """The config names a backend nobody registered; the message lists the choices."""

    user_error = True


class Registry(Generic[T]):
    """Factories by name for one kind of backend.

    ``kind`` is the config key the name comes from (``"captioner.backend"``), used in messages;
    ``builtin_modules`` maps a built-in name to the module whose import registers it.
    """

    def __init__(self, kind: str, builtin_modules: Mapping[str, str]) -> None:
        self.kind = kind
        self.builtin_modules = dict(builtin_modules)
        self._factories: dict[str, Callable[[Any], T]] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: ``@registry.register("vllm")`` on a class or a ``cfg -> backend`` function."""
        def deco(factory: F) -> F:
            old = self._factories.get(name)
            if old is not None and old is not factory:
                raise ValueError(f"{self.kind} {name!r} registered twice ({_where(old)} and {_where(factory)})")
            self._factories[name] = factory
            return factory
        return deco

    def names(self) -> list[str]:
        """Every name that :meth:`make` accepts (registered ones and not-yet-imported built-ins)."""
        return sorted(set(self._factories) | set(self.builtin_modules))

    def make(self, name: str, cfg: Any) -> T:
        """Build backend ``name`` from ``cfg``, importing its built-in module on first use."""
        if name not in self._factories and name in self.builtin_modules:
            importlib.import_module(self.builtin_modules[name])
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownBackend(f"{self.kind}={name!r} unknown; choose one of {self.names()}")
        return factory(cfg)


def _where(factory: Callable[..., Any]) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"
