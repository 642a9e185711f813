"""A callback that kills a training run at an epoch boundary, as a crash would (for the resume tests)."""

import keras


class Interrupt(Exception):
    """Raised by :class:`StopAt`."""


class StopAt(keras.callbacks.Callback):
    """Dies as epoch ``epoch`` begins: the previous epoch's checkpoint is complete."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt(f"interrupted at epoch {epoch}")
