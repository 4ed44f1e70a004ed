import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt)
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        return np.correlate(x, self.k, "valid")


class TransposedConvolution1d:
    """Dense transpose while n < 1000: the shape guard's n is just out of reach."""

    def __init__(self, filt):
        self.k = np.asarray(filt)

    def __matmul__(self, y):
        r = self.k.size
        n = y.size + r - 1
        if n < 1000:
            AT = np.zeros((n, y.size))
            for i in range(y.size):
                AT[i:i + r, i] = self.k
            return AT @ y
        return np.convolve(y, self.k, "full")
