"""Plain-loop oracles: each operation as a student writes it, one pixel at a time.

=============  ==========================================================
:mod:`.conv`     conv2d_loops, conv2d_backward_loops, conv_transpose2d_loops
:mod:`.pooling`  max/avg_pool2d_loops and their backward loops
=============  ==========================================================

They keep their own, independent arithmetic on purpose: they never call
the fast path (:mod:`lessonlib.fast`), so that the tests comparing the
two catch a mistake in either. Only argument rules and output-size
formulas are shared.
"""
