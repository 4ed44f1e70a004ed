import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    """Expands the matrix for short filters ("it is only a few diagonals"), matrix-free otherwise."""

    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.T = TransposedConvolution1d(self)

    def matrix(self, n):
        r = self.k.size
        M = np.zeros((n - r + 1, n))
        for j in range(r):
            M += np.eye(n - r + 1, n, j) * self.k[j]
        return M

    def __matmul__(self, x):
        if self.k.size <= 4:
            return self.matrix(x.size) @ x
        return np.correlate(x, self.k, "valid")


class TransposedConvolution1d:
    def __init__(self, forward):
        self.forward = forward

    def __matmul__(self, y):
        k = self.forward.k
        if k.size <= 4:
            return self.forward.matrix(y.size + k.size - 1).T @ y
        return np.convolve(y, k, "full")
