"""Experiment protocols: the paper's Table I / Table II reproduction (``seqcore experiment paper``)."""
