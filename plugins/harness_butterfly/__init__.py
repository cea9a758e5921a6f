"""Butterfly hybrid detection: photographs of Heliconius butterflies.

Builtin plugin providing the ``butterfly`` dataset (real images and a
synthetic stand-in), the ``butterfly-hybrid`` metric and the
``butterfly-hybrid`` challenge. A submission is called once per image with
the image as Pillow opened it and returns one score, higher meaning hybrid.
"""
