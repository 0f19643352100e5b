"""aqb-workflow: the lifecycle of Hessen's AQB target agreements (Zielvereinbarungen)."""

__version__ = "0.1.0"
