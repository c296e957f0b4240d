"""What a run costs: device-hours × the configured price per hour (the lessons' cost-per-run), live and in total."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class CostMeter:
    price_per_hour: float
    devices: int = 1
    prior_hours: float = 0.0  # device-hours spent by earlier sessions of the same run (before a resume)
    started: float = field(default_factory=time.perf_counter)

    def device_hours(self) -> float:
        # Loading time counts too: a rented machine bills from the moment it is up.
        return self.prior_hours + (time.perf_counter() - self.started) / 3600 * self.devices

    def cost(self, hours: float | None = None) -> float:
        """The price of `hours` device-hours (default: now); pass the hours you report so both agree exactly."""
        return (self.device_hours() if hours is None else hours) * self.price_per_hour
