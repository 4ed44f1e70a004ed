"""Taking a class as it arrives: LMS exports, archives, a roster, late work.

Entry point: :func:`grader.intake.layouts.read_class`.
"""
