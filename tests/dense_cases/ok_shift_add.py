import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        r = len(self.k)
        m = len(x) - r + 1
        return sum(self.k[j] * x[j:j + m] for j in range(r))


class TransposedConvolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)

    def __matmul__(self, y):
        r, m = len(self.k), len(y)
        out = np.zeros(m + r - 1)
        for j in range(r):
            out[j:j + m] += self.k[j] * y
        return out
