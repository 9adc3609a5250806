"""Sub-commands of the ``seqcore`` CLI, one module each (see :mod:`seqcore.cli`)."""
