"""Builtin sea-level challenge: flood days at 12 US East-coast tide gauges.

A model sees one daily map of sea-level anomaly at a time, in date order, and
answers with twelve 0/1 flags, one per station. The package provides the
``sealevel`` dataset (the original NetCDF and CSV layout, or a seeded
synthetic stand-in), the ``sealevel-flood`` metric and the
``sea-level-anomaly`` challenge file.
"""
