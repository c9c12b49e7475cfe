"""simstatus: how long until a Nova host failure shows in ``host_status``, and what faster costs.

>>> import simstatus
>>> result = simstatus.simulate("data/scenarios/default.toml")   # doctest: +SKIP
>>> result.summary()                                              # doctest: +SKIP
"""

from .resolver import ServiceSnapshot, instance_host_status, instance_host_statuses
from .scenario import Scenario, ScenarioError, load_scenario
from .servicegroup import ServiceGroup, effective_service_down_time
from .simulate import Result, simulate
from .status import HostStatus

__all__ = [
    "HostStatus",
    "Result",
    "Scenario",
    "ScenarioError",
    "ServiceGroup",
    "ServiceSnapshot",
    "effective_service_down_time",
    "instance_host_status",
    "instance_host_statuses",
    "load_scenario",
    "simulate",
]
__version__ = "0.1.0"
