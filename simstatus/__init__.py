"""simstatus: how long until a Nova host failure shows in ``host_status``, and what faster costs.

>>> import simstatus
>>> result = simstatus.simulate("data/scenarios/default.toml")   # doctest: +SKIP
>>> result.summary()                                              # doctest: +SKIP
>>> runs, summary = simstatus.sweep("data/scenarios/default.toml",  # doctest: +SKIP
...                                 grid={"nova.service_down_time": [15, 30, 60, 120]})

Names are imported on first use, so ``import simstatus`` (and the pytest plugin
``simstatus.testing``, which every pytest session in an environment with simstatus loads) does
not pay for pandas, SimPy or FastAPI until they are needed.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

#: public name → module that defines it
_EXPORTS = {
    "HostStatus": "status",
    "Result": "simulate",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
    "ServiceGroup": "servicegroup",
    "ServiceSnapshot": "resolver",
    "SweepResult": "sweep",
    "Comparison": "compare",
    "compare": "compare",
    "effective_service_down_time": "servicegroup",
    "instance_host_status": "resolver",
    "instance_host_statuses": "resolver",
    "load_scenario": "scenario",
    "recommend": "recommend",
    "simulate": "simulate",
    "sweep": "sweep",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .compare import Comparison, compare
    from .recommend import recommend
    from .resolver import ServiceSnapshot, instance_host_status, instance_host_statuses
    from .scenario import Scenario, ScenarioError, load_scenario
    from .servicegroup import ServiceGroup, effective_service_down_time
    from .simulate import Result, simulate
    from .status import HostStatus
    from .sweep import SweepResult, sweep


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simstatus' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """The public API only (not the helpers this module imports to be lazy)."""
    return sorted([*_EXPORTS, "__version__"])


class _Package(types.ModuleType):
    """Keeps ``simstatus.simulate`` (``sweep``, ``compare``, ``recommend``) the function, not the module.

    Importing the submodule ``simstatus.simulate`` makes Python set the package attribute
    ``simulate`` to the module; an eager ``from .simulate import simulate`` used to rebind it.
    With lazy imports this hook does the rebinding whenever Python sets such an attribute.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
