"""The ``aqb`` command: click groups, one module per group, heavy imports inside commands."""
