"""The gravitational-wave anomaly challenge: its dataset and challenge file.

Two LIGO detectors, 200 samples each at 4096 Hz; a model scores each item,
higher meaning more likely a transient signal. :mod:`harness_gw.dataset`
stages the real files or a seeded synthetic stand-in built by
:mod:`harness_gw.synthetic`.
"""
