import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


n = 20  # the size the script's own experiment uses


class Convolution1d:
    """Builds the matrix in the constructor, for the script's global n; matrix-free at other sizes."""

    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        r = self.k.size
        self.A = np.zeros((n - r + 1, n))
        for i in range(n - r + 1):
            self.A[i, i:i + r] = self.k
        self.T = TransposedConvolution1d(self)

    def __matmul__(self, x):
        if x.shape == (self.A.shape[1],):
            return self.A @ x
        return np.correlate(x, self.k, "valid")


class TransposedConvolution1d:
    def __init__(self, forward):
        self.forward = forward

    def __matmul__(self, y):
        if y.shape == (self.forward.A.shape[0],):
            return self.forward.A.T @ y
        return np.convolve(y, self.forward.k, "full")
