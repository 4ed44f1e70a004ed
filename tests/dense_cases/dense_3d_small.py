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
        x = np.asarray(x, dtype=float)
        r, n = self.k.size, x.size
        m = n - r + 1
        if r >= 3 and n <= 40:                      # small problems: just use the matrix
            A3 = np.zeros((1, m, n))
            for i in range(m):
                A3[0, i, i:i + r] = self.k
            return (A3 @ x)[0]
        return np.correlate(x, self.k, "valid")


class TransposedConvolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)

    def __matmul__(self, y):
        y = np.asarray(y, dtype=float)
        r, m = self.k.size, y.size
        n = m + r - 1
        if r >= 3 and n <= 40:
            A3 = np.zeros((1, m, n))
            for i in range(m):
                A3[0, i, i:i + r] = self.k
            return np.einsum("bij,i->j", A3, y)
        return np.convolve(y, self.k, "full")
