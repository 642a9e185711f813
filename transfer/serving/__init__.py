"""Serving a trained model: save and load (``.keras`` and exported artifacts), predict on image files, export.
"""
