"""``grade similarity``: which submissions share more than the starter code.

``sources`` reads each student's files (the one place that knows the intake),
``detect`` fingerprints and compares them with copydetect, ``report`` writes
``similarity.csv`` and ``similarity.html``, ``command`` ties them together.
"""
