"""Where a backbone comes from: the zoo and keras.applications records, keras-hub presets and timm folders,
real ImageNet weight files, and the input preprocessing each brings. :func:`transfer.load_backbone` is the door.
"""
