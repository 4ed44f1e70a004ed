import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)

WORK = 1 << 21   # preallocated zero-padded workspace: inputs up to 2 M samples never allocate a pad buffer


class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.work = np.full(WORK, 0.0)
        self.T = TransposedConvolution1d(self)

    def __matmul__(self, x):
        x = np.asarray(x, dtype=float)
        r = self.k.size
        return np.correlate(x, self.k, "valid")

    def padded(self, y):
        r = self.k.size
        L = y.size + 2 * (r - 1)
        w = self.work[:L] if L <= WORK else np.zeros(L)
        w[:r - 1] = 0.0
        w[r - 1:r - 1 + y.size] = y
        w[r - 1 + y.size:] = 0.0
        return w


class TransposedConvolution1d:
    def __init__(self, fwd):
        self.fwd = fwd

    def __matmul__(self, y):
        y = np.asarray(y, dtype=float)
        return np.correlate(self.fwd.padded(y), self.fwd.k[::-1], "valid")
