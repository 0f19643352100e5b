"""``python -m aqb_workflow`` runs the ``aqb`` command."""

from aqb_workflow.cli.main import main

main()
