"""One reader per dataset layout; each builds a :class:`~seqcore.data.dataset.Dataset`
(see :func:`seqcore.data.open_dataset`)."""
