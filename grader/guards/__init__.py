"""Guards: watch what student code does while the grader calls it.

Problem suites use them to enforce rules a result alone cannot show, such as
HW1 Problem 5's ban on building the dense (n-r+1)×n matrix:

* :mod:`grader.guards.shapes` (child side) rewrites the student's code so that
  the value of every expression passes through a check while the guard is
  armed: it sees arrays, including zero-copy views, the moment they exist,
  and knows the file, line and function that produced them;
* :mod:`grader.guards.memory` (child side) measures the peak of memory
  allocated (tracemalloc, which numpy reports to) while a callable runs, and
  on request finds the student line at which the peak was reached;
* :mod:`grader.guards.process` (judge side) reads the child's resident memory
  from outside, resets its peak and caps its address space, so a guard holds
  even when student code turns tracemalloc off.

What each guard catches and where its limits are: ``docs/dense-ban.md``.
"""
