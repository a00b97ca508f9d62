"""Synthetic geometry problems with exact answers and faithful diagrams, for CPU runs.

:mod:`.problems` defines the families (third angle of a triangle, parallel lines and a
transversal, inscribed vs central angle, isosceles base angles, chord length, rectangle area),
each with variants at fixed difficulty levels; :mod:`.figure` draws them; :mod:`.generate` makes
train / held-out sets and writes them in the published benchmark formats.
"""
