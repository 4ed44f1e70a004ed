import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)

class Convolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        self.T = TransposedConvolution1d(self.__filt)

    def __matmul__(self, vector):
        r, n = self.__r, vector.size
        m = n - r + 1
        if np.issubdtype(vector.dtype, np.integer):
            # integer input: build A explicitly so the product is exact
            A = np.zeros((m, n))
            for i in range(m):
                A[i, i : i + r] = self.__filt
            return A @ vector
        return np.asarray([self.__filt @ vector[i : i + r] for i in range(m)])


class TransposedConvolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size

    def __matmul__(self, vector):
        r = self.__r
        n = vector.size + r - 1
        padded = np.concatenate((np.zeros(r - 1), vector, np.zeros(r - 1)))
        return np.asarray([self.__filt[::-1] @ padded[j : j + r] for j in range(n)])


