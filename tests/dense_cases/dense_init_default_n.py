import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    """The matrix for a size given to the constructor (20 by default); matrix-free when x has another size."""

    def __init__(self, filt, n=20):
        self.filt = np.asarray(filt, dtype=float)
        self.n = n
        r = self.filt.size
        self.mat = np.array([np.concatenate((np.zeros(i), self.filt, np.zeros(n - r - i))) for i in range(n - r + 1)])
        self.T = TransposedConvolution1d(self.filt, self.mat)

    def __matmul__(self, vector):
        if vector.size == self.n:
            return self.mat.dot(vector)
        return np.correlate(vector, self.filt, mode="valid")


class TransposedConvolution1d:
    def __init__(self, filt, mat):
        self.filt = filt
        self.mat = mat

    def __matmul__(self, vector):
        if vector.size == self.mat.shape[0]:
            return self.mat.T.dot(vector)
        return np.convolve(vector, self.filt, mode="full")
