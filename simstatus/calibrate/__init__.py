"""Calibrating the heartbeat path from a real cloud: samples, estimates, a report (docs/calibration.md)."""
